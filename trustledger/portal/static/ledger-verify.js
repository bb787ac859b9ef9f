// An independent check of a ledger entry's RFC 6962 inclusion proof, in the browser.
// Nothing here trusts the server's own verification: it takes the page's data (the entry's
// canonical JSON when shown, the leaf hash, the proof, the tree size and the root) and
// recomputes with the browser's WebCrypto SHA-256 (RFC 9162 §2.1.3.2).
(function () {
  "use strict";

  var box = document.getElementById("ledger-verify");
  if (!box) { return; }
  var result = document.getElementById("verify-result");
  var steps = document.getElementById("verify-steps");

  function say(state, text) {
    result.dataset.state = state;
    result.textContent = text;
  }

  function step(text, ok) {
    var li = document.createElement("li");
    li.textContent = (ok ? "✓ " : "✗ ") + text;
    steps.appendChild(li);
  }

  function fromHex(text) {
    if (!/^([0-9a-f]{2})*$/.test(text)) { throw new Error("not hexadecimal: " + text.slice(0, 16)); }
    var out = new Uint8Array(text.length / 2);
    for (var i = 0; i < out.length; i++) { out[i] = parseInt(text.substr(i * 2, 2), 16); }
    return out;
  }

  function toHex(bytes) {
    var out = "";
    for (var i = 0; i < bytes.length; i++) { out += (bytes[i] < 16 ? "0" : "") + bytes[i].toString(16); }
    return out;
  }

  function join(prefix, parts) {
    var size = 1;
    parts.forEach(function (p) { size += p.length; });
    var out = new Uint8Array(size);
    out[0] = prefix;
    var at = 1;
    parts.forEach(function (p) { out.set(p, at); at += p.length; });
    return out;
  }

  function sha256(bytes) {
    return crypto.subtle.digest("SHA-256", bytes).then(function (d) { return new Uint8Array(d); });
  }

  function odd(n) { return n % 2 === 1; }
  function half(n) { return Math.floor(n / 2); }

  // RFC 9162 §2.1.3.2, with arithmetic instead of bit operations (JavaScript's are 32-bit)
  async function rootFromProof(index, size, leaf, proof) {
    if (!(index < size)) { throw new Error("the index is not inside the tree"); }
    var fn = index, sn = size - 1, r = leaf;
    for (var i = 0; i < proof.length; i++) {
      var p = proof[i];
      if (p.length !== 32) { throw new Error("proof hash " + (i + 1) + " is not 32 bytes"); }
      if (sn === 0) { throw new Error("the proof is longer than the tree is deep"); }
      if (odd(fn) || fn === sn) {
        r = await sha256(join(1, [p, r]));
        if (!odd(fn)) {
          while (fn !== 0 && !odd(fn)) { fn = half(fn); sn = half(sn); }
        }
      } else {
        r = await sha256(join(1, [r, p]));
      }
      fn = half(fn); sn = half(sn);
    }
    if (sn !== 0) { throw new Error("the proof is shorter than the tree is deep"); }
    return r;
  }

  async function check() {
    if (!window.crypto || !crypto.subtle) {
      say("unavailable", "cannot check here: this browser offers WebCrypto only on secure (HTTPS or local) pages");
      return;
    }
    try {
      var seq = Number(box.dataset.seq), size = Number(box.dataset.size);
      var leaf = fromHex(box.dataset.leaf), root = fromHex(box.dataset.root);
      var proof = JSON.parse(box.dataset.proof).map(fromHex);
      var ok = true;
      if (box.dataset.entry) {
        var text = document.getElementById(box.dataset.entry).textContent;
        var computed = await sha256(join(0, [new TextEncoder().encode(text)]));
        var same = toHex(computed) === toHex(leaf);
        step("SHA-256(0x00 ‖ entry) = " + toHex(computed) + (same ? ", the leaf hash" : ", not the leaf hash " + toHex(leaf)), same);
        ok = ok && same;
      }
      var got = await rootFromProof(seq, size, leaf, proof);
      var match = toHex(got) === toHex(root);
      step("the " + proof.length + " proof hashes lead from the leaf to " + toHex(got) + (match ? ", the tree head's root" : ", not the tree head's root " + toHex(root)), match);
      ok = ok && match;
      say(ok ? "verified" : "failed", ok
        ? "verified: entry " + seq + " is in the tree of " + size + " entries with this root"
        : "failed: the entry is not proved to be in this tree");
    } catch (err) {
      step(String(err && err.message || err), false);
      say("failed", "failed: " + String(err && err.message || err));
    }
  }

  check();
})();
