(function () {
  "use strict";
  async function post(url, body) {
    const r = await fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "same-origin",
    });
    const j = await r.json().catch(function () { return {}; });
    if (!r.ok) throw new Error(j.message || "HTTP " + r.status);
    return j;
  }
  function say(msg) {
    const s = document.getElementById("passkey-status");
    if (s) s.textContent = msg;
  }
  function withToken(b, body) {
    if (b.dataset.token) body.mfaToken = b.dataset.token;
    return body;
  }
  async function get(options) {
    const cred = await navigator.credentials.get({
      publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options.publicKey),
    });
    return cred.toJSON();
  }
  const flows = {
    register: async function (b) {
      const name = document.getElementById("passkey-name");
      const o = await post(b.dataset.api + "/webauthn/register/start",
        withToken(b, { name: name ? name.value : "Passkey" }));
      const cred = await navigator.credentials.create({
        publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(o.publicKey),
      });
      const r = await post(b.dataset.api + "/webauthn/register/finish",
        withToken(b, { credential: cred.toJSON() }));
      const codes = document.getElementById("passkey-codes");
      if (r.recoveryCodes && codes) {
        codes.textContent = r.recoveryCodes.join("\n");
        codes.hidden = false;
        const go = document.createElement("a");
        go.id = "continue";
        go.href = b.dataset.next || "/";
        go.textContent = "Continue";
        codes.after(go);
        say("Passkey created. Keep these recovery codes safe: they are shown only now.");
        return;
      }
      location.assign(b.dataset.next || location.pathname);
    },
    login: async function (b) {
      const o = await post(b.dataset.api + "/webauthn/login/start", {});
      const credential = await get(o);
      await post(b.dataset.api + "/webauthn/login/finish", { flowId: o.flowId, credential: credential });
      location.assign(b.dataset.next || "/");
    },
    second: async function (b) {
      const o = await post(b.dataset.api + "/mfa/webauthn/start", withToken(b, {}));
      const credential = await get(o);
      await post(b.dataset.api + "/mfa/verify", withToken(b, { credential: credential }));
      location.assign(b.dataset.next || "/");
    },
  };
  // Copy buttons: the text of the element the button names.
  document.querySelectorAll("button[data-copy]").forEach(function (b) {
    b.addEventListener("click", function (e) {
      e.preventDefault();
      const from = document.getElementById(b.dataset.copy);
      navigator.clipboard.writeText(from ? from.textContent.trim() : "").then(
        function () { b.textContent = "Copied"; },
        function () { b.textContent = "Select the key and copy it"; });
    });
  });
  document.querySelectorAll("button[data-passkey]").forEach(function (b) {
    b.addEventListener("click", function (e) {
      e.preventDefault();
      say("");
      flows[b.dataset.passkey](b).catch(function (err) { say(err.message || String(err)); });
    });
  });
})();
