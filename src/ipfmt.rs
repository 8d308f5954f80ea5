//! An IP address as text on the stack, IPv4 written octet by octet: every proxied request
//! writes its client's address twice (`X-Forwarded-For`, the access line), and `Display`'s
//! formatting machinery was ~1% of a request's CPU.

use std::net::IpAddr;

/// Long enough for any `Display` of an IPv6 address (45 bytes, IPv4-mapped included).
pub struct IpText {
    buf: [u8; 48],
    len: usize,
}

impl IpText {
    pub fn new(ip: IpAddr) -> Self {
        let mut t = IpText {
            buf: [0; 48],
            len: 0,
        };
        match ip {
            IpAddr::V4(v4) => {
                for (i, octet) in v4.octets().into_iter().enumerate() {
                    if i > 0 {
                        t.put(b".");
                    }
                    t.put(itoa::Buffer::new().format(octet).as_bytes());
                }
            }
            IpAddr::V6(v6) => {
                use std::io::Write as _;
                let mut cursor = std::io::Cursor::new(&mut t.buf[..]);
                // Cannot fail: the buffer holds the longest form.
                let _ = write!(cursor, "{v6}");
                t.len = cursor.position() as usize;
            }
        }
        t
    }

    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }

    pub fn as_str(&self) -> &str {
        // Only ASCII digits, dots, colons and hex letters were written.
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or_default()
    }
}

/// Appends `ip` as `Display` writes it.
pub fn push(w: &mut String, ip: IpAddr) {
    w.push_str(IpText::new(ip).as_str());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_displays() {
        let mut ips: Vec<IpAddr> = [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.0.1",
            "127.0.0.1",
            "::",
            "::1",
            "2001:db8::1",
            "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "::ffff:255.255.255.255",
            "fe80::1:2:3:4",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        for _ in 0..2000 {
            ips.push(IpAddr::V4(rand::random::<u32>().into()));
            ips.push(IpAddr::V6(rand::random::<u128>().into()));
        }
        for ip in ips {
            assert_eq!(IpText::new(ip).as_str(), ip.to_string());
        }
    }
}
