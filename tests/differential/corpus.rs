//! The generated corpus of request targets: area names in every spelling a server might fold,
//! traversal gadgets in every encoding, separators, and targets that are not origin-form. It is
//! deterministic, so a failure names a target that can be replayed by hand.

/// The three areas of the layout and a path in each.
pub const AREAS: [&str; 3] = ["public", "admin", "app"];

/// Spellings of one path segment that some server may read as `word`.
pub fn spellings(word: &str) -> Vec<String> {
    let first = word.as_bytes()[0];
    let rest = &word[1..];
    let upper_first = format!("{}{rest}", (first as char).to_ascii_uppercase());
    let fullwidth = |c: u8| char::from_u32(0xFF00 + u32::from(c) - 0x20).unwrap_or('?');
    let fw_first = fullwidth(first);
    let mut fw_utf8 = String::new();
    for b in fw_first.to_string().bytes() {
        fw_utf8.push_str(&format!("%{b:02X}"));
    }
    let all_encoded: String = word.bytes().map(|b| format!("%{b:02x}")).collect();
    vec![
        word.to_string(),
        word.to_ascii_uppercase(),
        upper_first.clone(),
        format!("%{first:02x}{rest}"),
        format!("%{:02X}{rest}", first.to_ascii_uppercase()),
        all_encoded,
        format!("%25{first:02x}{rest}"),
        format!("%2525{first:02x}{rest}"),
        format!("{fw_first}{rest}"),
        format!("{fw_utf8}{rest}"),
        format!("{word};x"),
        format!("{word};"),
        format!("{word};jsessionid=ABC"),
        format!("{upper_first};x"),
        format!("{word}."),
        format!("{word}%20"),
        format!("{word}%09"),
        format!("{word}%00"),
        format!("{word}%2e"),
        format!("{word}%3b"),
        format!("{word}%3Bx"),
        format!("{word}%23"),
        format!("{word}%3f"),
        format!("{word}~"),
        format!("{word}%c0%80"),
        format!("%u00{first:02x}{rest}"),
    ]
}

/// Traversal gadgets: segments some server resolves to `..` (or `.`).
pub const GADGETS: [&str; 30] = [
    "..",
    "%2e%2e",
    "%2E%2E",
    ".%2e",
    "%2e.",
    "%252e%252e",
    "%25252e%25252e",
    "..;",
    "..;x",
    "..;jsessionid=1",
    "%2e%2e;x",
    ".%2e;",
    "%c0%ae%c0%ae",
    "%e0%80%ae%e0%80%ae",
    "%ef%bc%8e%ef%bc%8e",
    "．．",
    "..%00",
    "..%20",
    "...",
    "....",
    ".",
    "%2e",
    ".;",
    "%u002e%u002e",
    "..%c0%af",
    "..%ef%bc%8f",
    "%2e%2e%2f",
    "..%2f",
    "..%5c",
    "%252e%252e%252f",
];

/// Separators between segments.
pub const SEPARATORS: [&str; 10] = [
    "/", "//", "%2f", "%2F", "\\", "%5c", "/./", "/;/", ";/", "%252f",
];

/// Everything to send, in order. Every target is a full request target (the bytes between
/// the method and the version).
pub fn targets(host: &str) -> Vec<String> {
    let mut out = Vec::new();
    // 1. Each area under every spelling, with a tail or none.
    for area in AREAS {
        for s in spellings(area) {
            for tail in ["", "/", "/x", "/x/y", "/x;y", "/x?q=1"] {
                out.push(format!("/{s}{tail}"));
            }
        }
    }
    // 2. From one area into another through a gadget and separators.
    let starts = ["public", "PUBLIC", "public;x", "%70ublic", "app"];
    let ends = ["admin/x", "ADMIN/x", "admin;x/y", "%61dmin/x", "app/x"];
    for start in starts {
        for gadget in GADGETS {
            for sep in SEPARATORS {
                for end in ends {
                    out.push(format!("/{start}{sep}{gadget}{sep}{end}"));
                }
            }
        }
    }
    // 3. Leading gadgets and separators, with no area before them.
    for gadget in GADGETS {
        for sep in SEPARATORS {
            out.push(format!("{sep}{gadget}{sep}admin/x"));
            out.push(format!("/{gadget}{sep}admin/x"));
        }
    }
    // 4. Targets that are not origin-form.
    for area in AREAS {
        for s in [
            "admin/x",
            "public/../admin/x",
            "%2fadmin/x",
            "a/../admin/x",
            "./admin/x",
        ] {
            out.push(s.replace("admin", area));
        }
        out.push(format!("http://{host}/{area}/x"));
        out.push(format!("HTTP://{host}/{area}/x"));
        out.push(format!("http://{host}/public/../{area}/x"));
        out.push(format!("http://evil.test/{area}/x"));
        out.push(format!("http://{host}@evil.test/{area}/x"));
        out.push(format!("https://{host}/{area}/x"));
        out.push(format!("http:/{host}/{area}/x"));
        out.push(format!("//{host}/{area}/x"));
        out.push(format!("\\{area}/x"));
        out.push(format!("/\\{area}/x"));
    }
    out.push("*".into());
    out.push(format!("{host}:80"));
    // 5. Query and fragment tricks that leave the path alone.
    for q in [
        "?/../admin/x",
        "?x=/admin",
        "?%2e%2e/admin",
        "#/../admin/x",
        "%3f/../admin/x",
        "%23/../admin/x",
        ";?/../admin",
    ] {
        out.push(format!("/public/x{q}"));
    }
    out.sort();
    out.dedup();
    out
}

/// Paths that must reach the app, and the area each must land in.
pub const LEGITIMATE: [(&str, &str); 24] = [
    ("/public", "public"),
    ("/public/", "public"),
    ("/public/x", "public"),
    ("/public/a%20b", "public"),
    ("/public/caf%C3%A9", "public"),
    ("/public/caf%c3%a9", "public"),
    ("/public/%E2%82%AC", "public"),
    ("/public/a%2Bb", "public"),
    ("/public/a+b", "public"),
    ("/public/file.tar.gz", "public"),
    ("/public/.well-known", "public"),
    ("/public/x?q=%2F..%2F&r=%00&s=%zz", "public"),
    ("/public/x?redirect=/admin/x", "public"),
    ("/public/report;v=1", "public"),
    ("/public/Readme.MD", "public"),
    ("/public/~user/a-b_c", "public"),
    ("//public//x", "public"),
    ("/app", "protected"),
    ("/app/x", "protected"),
    ("/app/x;v=2", "protected"),
    ("/app/ABC", "protected"),
    ("/app/%E6%97%A5%E6%9C%AC", "protected"),
    ("/", "protected"),
    ("/app/a%3Db", "protected"),
];
