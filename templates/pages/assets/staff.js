// Staff scanner: sign in, find a card (camera or typed number), record a purchase with the
// customer's vouchers, redeem points, undo the last operation. Plain script, no framework: it must start fast on a cheap phone.
// Every write carries an Idempotency-Key made once per operation; "Retry" resends the very same
// request with the same key, so a flaky network never credits a card twice.
(function () {
  "use strict";

  var root = document.getElementById("staff");
  if (!root) return;
  var $ = function (id) { return document.getElementById(id); };
  var TOKEN = "encarte.staff.token";
  var PROGRAM = "encarte.staff.program";
  var FORMATS = ["qr_code", "code_128", "pdf417", "aztec"];

  var texts = {};
  Array.prototype.forEach.call($("messages").querySelectorAll("li[data-key]"), function (li) {
    texts[li.getAttribute("data-key")] = li.textContent;
  });
  function msg(key, args) {
    var text = texts[key] || key;
    Object.keys(args || {}).forEach(function (name) {
      text = text.split("{" + name + "}").join(String(args[name]));
    });
    return text;
  }

  var card = null;      // the card shown (GET /cards/{ref})
  var pending = null;   // the operation whose answer never came: "Retry" sends it again
  var lastOp = null;    // what "Undo" cancels
  var busy = false;
  var vouchers = [];    // the vouchers added to the purchase being typed: {code, display, value}

  // ---- session ----------------------------------------------------------------------------

  function token() { return sessionStorage.getItem(TOKEN); }
  function program() {
    try { return JSON.parse(sessionStorage.getItem(PROGRAM) || "null"); } catch (e) { return null; }
  }

  function showView() {
    var signedIn = !!token();
    $("login-view").hidden = signedIn;
    $("work-view").hidden = !signedIn;
    if (signedIn) {
      var p = program();
      $("who").textContent = p ? msg("signed_in", { program: p.name }) : "";
      $("currency").textContent = p ? p.currency : "";
      $("scan-start").hidden = !scanPossible();
      $("voucher-scan").hidden = !scanPossible();
      $("card-view").hidden = !card;
      $("find-view").hidden = !!card;
    } else {
      $("login-email").focus();
    }
  }

  function signOut(reason) {
    sessionStorage.removeItem(TOKEN);
    sessionStorage.removeItem(PROGRAM);
    stopCamera();
    card = null; pending = null; lastOp = null;
    vouchers = [];
    renderVouchers();
    clearOutcome();
    if (reason) showError(reason, false);
    showView();
  }

  // ---- talking to the API -----------------------------------------------------------------

  function newKey() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    // randomUUID needs a secure context; a till on plain http still gets 122 random bits.
    var b = new Uint8Array(16);
    crypto.getRandomValues(b);
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    var h = Array.prototype.map.call(b, function (x) { return (x + 0x100).toString(16).slice(1); }).join("");
    return h.slice(0, 8) + "-" + h.slice(8, 12) + "-" + h.slice(12, 16) + "-" + h.slice(16, 20) + "-" + h.slice(20);
  }

  // Resolves with {status, body}; rejects only when no answer came back at all.
  function call(method, path, body, key) {
    var headers = { "Accept": "application/json" };
    if (token()) headers["Authorization"] = "Bearer " + token();
    if (body !== undefined) headers["Content-Type"] = "application/json";
    if (key) headers["Idempotency-Key"] = key;
    return fetch(path, {
      method: method, headers: headers, cache: "no-store", credentials: "omit",
      body: body === undefined ? undefined : JSON.stringify(body)
    }).then(function (res) {
      return res.text().then(function (text) {
        var parsed = null;
        try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = null; }
        return { status: res.status, body: parsed };
      });
    });
  }

  function apiError(res) {
    var e = res.body && res.body.error;
    return e ? e.message + " (" + e.code + ")" : "HTTP " + res.status;
  }

  // Runs a write. The key is made once, when the operation is first tried; a retry of the same
  // request (the Retry button, or the same form sent again unchanged) reuses it, so the server
  // replays its first answer instead of recording the operation twice.
  function write(op) {
    if (pending && pending.path === op.path && JSON.stringify(pending.body) === JSON.stringify(op.body)) {
      op.key = pending.key;
    }
    op.key = op.key || newKey();
    send(op);
  }

  function send(op) {
    if (busy) return;
    setBusy(true);
    clearOutcome();
    call("POST", op.path, op.body, op.key).then(function (res) {
      setBusy(false);
      if (res.status === 401) return signOut(msg("session_expired"));
      if (res.status >= 500) {
        // Nothing was stored for this key: the same request may safely be sent again.
        pending = op;
        return showError(apiError(res), true);
      }
      pending = null;
      if (res.status >= 200 && res.status < 300) return op.done(res.body);
      showError(apiError(res), false);
    }, function () {
      setBusy(false);
      pending = op;
      showError(msg("network"), true);
    });
  }

  function setBusy(on) {
    busy = on;
    ["login-submit", "card-submit", "purchase-submit", "redeem-submit", "voucher-add", "undo", "retry"].forEach(function (id) {
      $(id).disabled = on;
    });
    root.setAttribute("aria-busy", on ? "true" : "false");
  }

  // ---- what the cashier sees --------------------------------------------------------------

  function clearOutcome() {
    $("result").hidden = true;
    $("error").hidden = true;
    $("retry").hidden = true;
    $("undo").hidden = !lastOp;
    $("outcome").hidden = !lastOp;
  }

  function showResult(lines) {
    $("error").hidden = true;
    $("retry").hidden = true;
    $("result").textContent = lines.join("\n");
    $("result").hidden = false;
    $("undo").hidden = !lastOp;
    $("outcome").hidden = false;
    $("outcome").scrollIntoView({ block: "start" });
  }

  function showError(text, canRetry) {
    $("result").hidden = true;
    $("error").textContent = text;
    $("error").hidden = false;
    $("retry").hidden = !canRetry;
    $("undo").hidden = canRetry || !lastOp;
    $("outcome").hidden = false;
    $("outcome").scrollIntoView({ block: "start" });
  }

  function money(cents) {
    var p = program();
    var sep = document.documentElement.lang === "fr" ? "," : ".";
    var whole = Math.floor(cents / 100);
    var part = String(cents % 100);
    return whole + sep + (part.length < 2 ? "0" + part : part) + (p ? " " + p.currency : "");
  }

  // "12.50", "12,50", "12,5", "12" → cents, read from the text (no floating point).
  function parseCents(text) {
    var m = /^\s*(\d{1,7})(?:[.,](\d{1,2}))?\s*$/.exec(text);
    if (!m) return null;
    var cents = parseInt(m[1], 10) * 100 + parseInt(((m[2] || "") + "00").slice(0, 2), 10);
    return cents > 0 ? cents : null;
  }

  function showCard(view) {
    card = view;
    $("card-name").textContent = view.first_name || "—";
    $("card-balance").textContent = String(view.balance);
    $("card-number").textContent = view.display_number;
    $("card-status").hidden = view.status === "active";
    showView();
    loadHistory();
  }

  function setBalance(balance) {
    if (!card) return;
    card.balance = balance;
    $("card-balance").textContent = String(balance);
    loadHistory();
  }

  function loadHistory() {
    if (!card) return;
    call("GET", "/api/v1/cards/" + encodeURIComponent(card.id) + "/ledger?limit=5").then(function (res) {
      if (res.status !== 200 || !res.body) return;
      var list = $("history");
      while (list.firstChild) list.removeChild(list.firstChild);
      res.body.entries.forEach(function (e) {
        var li = document.createElement("li");
        var what = document.createElement("span");
        what.textContent = texts["kind." + e.kind] || e.kind;
        var when = document.createElement("span");
        when.className = "when";
        when.textContent = new Date(e.created_at).toLocaleString(document.documentElement.lang);
        what.appendChild(when);
        var delta = document.createElement("span");
        delta.className = "delta " + (e.points >= 0 ? "plus" : "minus");
        delta.textContent = (e.points >= 0 ? "+" : "−") + Math.abs(e.points);
        li.appendChild(what);
        li.appendChild(delta);
        list.appendChild(li);
      });
      $("history-empty").hidden = res.body.entries.length > 0;
    }, function () { /* the history is a convenience: the balance shown is already right */ });
  }

  // ---- vouchers ---------------------------------------------------------------------------

  // A voucher code: 11 symbols of the unambiguous alphabet, in any case, dashes or spaces allowed.
  // Never a card: card numbers have 12 digits and card barcodes 26 symbols.
  var VOUCHER = /^[23456789ABCDEFGHJKMNPQRSTUVWXYZ]{11}$/;
  function voucherCode(raw) {
    var code = String(raw).toUpperCase().replace(/[\s-]/g, "");
    return VOUCHER.test(code) ? code : null;
  }

  function valueText(value) {
    if (!value) return "";
    if (value.amount_off_cents) return "−" + money(value.amount_off_cents);
    if (value.percent_off) return "−" + value.percent_off + " %";
    return value.item || "";
  }

  function renderVouchers() {
    var list = $("voucher-list");
    while (list.firstChild) list.removeChild(list.firstChild);
    vouchers.forEach(function (v, i) {
      var li = document.createElement("li");
      li.className = "voucher";
      li.setAttribute("data-code", v.code);
      var what = document.createElement("span");
      what.textContent = v.display + " · " + valueText(v.value);
      var remove = document.createElement("button");
      remove.type = "button";
      remove.className = "secondary voucher-remove";
      remove.textContent = msg("voucher_remove");
      remove.addEventListener("click", function () {
        vouchers.splice(i, 1);
        renderVouchers();
      });
      li.appendChild(what);
      li.appendChild(remove);
      list.appendChild(li);
    });
  }

  function refusal(res) {
    var reason = res.body && res.body.reason;
    return reason ? msg("voucher." + reason) : apiError(res);
  }

  // Checks the code (a dry run: nothing is held) and adds it to the purchase. Without a card yet,
  // the voucher's own card is opened: scanning the voucher alone is enough.
  function addVoucher(raw) {
    var code = voucherCode(raw);
    if (!code) return showError(msg("voucher_not_a_code"), false);
    if (vouchers.some(function (v) { return v.code === code; })) return showError(msg("voucher_twice"), false);
    if (busy) return;
    setBusy(true);
    clearOutcome();
    var body = { code: code };
    if (card) body.card = card.number;
    call("POST", "/api/v1/vouchers/validate", body).then(function (res) {
      setBusy(false);
      if (res.status === 401) return signOut(msg("session_expired"));
      if (res.status !== 200) return showError(apiError(res), false);
      if (!res.body.valid || !res.body.voucher) return showError(refusal(res), false);
      var v = res.body.voucher;
      vouchers.push({ code: v.code, display: v.code_display, value: v.value });
      $("voucher-input").value = "";
      renderVouchers();
      if (!card) lookUp(v.card_id, true);
    }, function () {
      setBusy(false);
      showError(msg("network"), false);
    });
  }

  // ---- finding a card ---------------------------------------------------------------------

  // `exact`: a card id (its dashes are part of it), not what a cashier typed.
  function lookUp(raw, exact) {
    if (!card && !exact && voucherCode(raw)) return addVoucher(raw);
    // Card numbers are typed with spaces or dashes; scanned barcodes have none.
    var ref = exact ? String(raw) : String(raw).replace(/[\s-]/g, "");
    if (!ref) return showError(msg("card_empty"), false);
    if (busy) return;
    setBusy(true);
    clearOutcome();
    call("GET", "/api/v1/cards/" + encodeURIComponent(ref)).then(function (res) {
      setBusy(false);
      if (res.status === 401) return signOut(msg("session_expired"));
      if (res.status !== 200) return showError(apiError(res), false);
      lastOp = null;
      clearOutcome();
      showCard(res.body);
      $("amount").focus();
    }, function () {
      setBusy(false);
      showError(msg("network"), false);
    });
  }

  // ---- the camera -------------------------------------------------------------------------

  var stream = null;
  var timer = null;

  function scanPossible() {
    var camera = !!(navigator.mediaDevices && navigator.mediaDevices.getUserMedia);
    return camera && ("BarcodeDetector" in window || !!root.getAttribute("data-decoder"));
  }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      var s = document.createElement("script");
      s.src = src;
      s.onload = resolve;
      s.onerror = reject;
      document.head.appendChild(s);
    });
  }

  // The native detector where the browser has one that reads QR codes; otherwise the vendored
  // zxing-wasm build, loaded only now, with its wasm fetched from us (never from a CDN).
  function detector() {
    var fallback = function () {
      var api = window.BarcodeDetectionAPI;
      var ready = api ? Promise.resolve() : loadScript(root.getAttribute("data-decoder"));
      return ready.then(function () {
        api = window.BarcodeDetectionAPI;
        var wasm = root.getAttribute("data-wasm");
        api.prepareZXingModule({
          overrides: { locateFile: function (path, prefix) { return /\.wasm$/.test(path) ? wasm : prefix + path; } },
          fireImmediately: true
        });
        return new api.BarcodeDetector({ formats: FORMATS });
      });
    };
    if (!("BarcodeDetector" in window)) return fallback();
    return window.BarcodeDetector.getSupportedFormats().then(function (supported) {
      var formats = FORMATS.filter(function (f) { return supported.indexOf(f) >= 0; });
      if (formats.indexOf("qr_code") < 0) return root.getAttribute("data-decoder") ? fallback() : null;
      return new window.BarcodeDetector({ formats: formats });
    });
  }

  // `found` gets the first code read: a card to look up, or a voucher to add to the purchase.
  function startCamera(found) {
    clearOutcome();
    var video = $("scan-video");
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false }).then(function (s) {
      stream = s;
      video.srcObject = s;
      $("scanner").hidden = false;
      $("scan-start").hidden = true;
      $("voucher-scan").hidden = true;
      return video.play().then(detector);
    }).then(function (reader) {
      if (!reader) throw new Error("no detector");
      var tick = function () {
        if (!stream) return;
        reader.detect(video).then(function (codes) {
          if (!stream) return;
          if (codes.length) {
            stopCamera();
            found(codes[0].rawValue);
          } else {
            timer = setTimeout(tick, 150);
          }
        }, function () { timer = setTimeout(tick, 300); });
      };
      tick();
    }).catch(function () {
      stopCamera();
      showError(msg("camera_failed"), false);
    });
  }

  function stopCamera() {
    if (timer) clearTimeout(timer);
    timer = null;
    if (stream) stream.getTracks().forEach(function (t) { t.stop(); });
    stream = null;
    $("scan-video").srcObject = null;
    $("scanner").hidden = true;
    $("scan-start").hidden = !token() || !scanPossible();
    $("voucher-scan").hidden = !token() || !scanPossible();
  }

  // ---- the operations ---------------------------------------------------------------------

  function purchase() {
    var cents = parseCents($("amount").value);
    if (cents === null) return showError(msg("amount_invalid"), false);
    var body = { card: card.number, amount_cents: cents, currency: program().currency };
    var code = $("promo-code").value.trim();
    if (code) body.promo_code = code;
    if (vouchers.length) body.vouchers = vouchers.map(function (v) { return v.code; });
    write({
      path: "/api/v1/purchases", body: body, done: function (r) {
        lastOp = { kind: "purchase", id: r.purchase.id, amount_cents: r.purchase.amount_cents };
        var lines = [msg("purchased", { points: r.points_earned + r.bonus_points, balance: r.balance })];
        var used = r.vouchers || [];
        var off = used.reduce(function (sum, v) { return sum + v.discount_cents; }, 0);
        if (r.promo && r.discount_cents - off > 0) {
          lines.push(msg("discount", { code: r.promo.code, amount: money(r.discount_cents - off) }));
        }
        if (off > 0) lines.push(msg("voucher_discount", { amount: money(off) }));
        used.forEach(function (v) {
          if (v.value && v.value.item) lines.push(msg("voucher_item", { item: v.value.item }));
        });
        // What the till actually takes: the bill less every discount.
        if (r.discount_cents > 0) lines.push(msg("charge", { amount: money(r.purchase.amount_cents - r.discount_cents) }));
        $("amount").value = "";
        $("promo-code").value = "";
        vouchers = [];
        renderVouchers();
        showResult(lines);
        setBalance(r.balance);
      }
    });
  }

  function redeem() {
    var text = $("redeem-points").value.trim();
    if (!/^\d{1,9}$/.test(text) || parseInt(text, 10) < 1) return showError(msg("points_invalid"), false);
    var points = parseInt(text, 10);
    write({
      path: "/api/v1/cards/" + encodeURIComponent(card.id) + "/redemptions",
      body: { points: points, reason: "staff scanner" },
      done: function (r) {
        lastOp = { kind: "redemption", id: r.redemption.id };
        $("redeem-points").value = "";
        showResult([msg("redeemed", { points: -r.redemption.points, balance: r.balance })]);
        setBalance(r.balance);
      }
    });
  }

  function undo() {
    if (!lastOp) return;
    var op = lastOp;
    if (op.kind === "purchase") {
      write({
        path: "/api/v1/purchases/" + encodeURIComponent(op.id) + "/returns",
        body: { amount_cents: op.amount_cents },
        done: function (r) {
          lastOp = null;
          showResult([msg("undone_purchase", { points: r.points_reversed, balance: r.balance })]);
          setBalance(r.balance);
        }
      });
    } else {
      write({
        path: "/api/v1/redemptions/" + encodeURIComponent(op.id) + "/reversal",
        body: {},
        done: function (r) {
          lastOp = null;
          showResult([msg("undone_redemption", { points: r.reversal.points, balance: r.balance })]);
          setBalance(r.balance);
        }
      });
    }
  }

  // ---- wiring -----------------------------------------------------------------------------

  $("login-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    if (busy) return;
    setBusy(true);
    clearOutcome();
    var body = { email: $("login-email").value.trim(), password: $("login-password").value };
    call("POST", "/api/v1/auth/login", body).then(function (res) {
      setBusy(false);
      if (res.status !== 200) return showError(apiError(res), false);
      sessionStorage.setItem(TOKEN, res.body.token);
      sessionStorage.setItem(PROGRAM, JSON.stringify(res.body.program));
      $("login-password").value = "";
      showView();
      $("card-input").focus();
    }, function () {
      setBusy(false);
      showError(msg("network"), false);
    });
  });

  $("card-form").addEventListener("submit", function (ev) {
    ev.preventDefault();
    lookUp($("card-input").value);
  });
  $("purchase-form").addEventListener("submit", function (ev) { ev.preventDefault(); purchase(); });
  $("redeem-form").addEventListener("submit", function (ev) { ev.preventDefault(); redeem(); });
  $("voucher-add").addEventListener("click", function () { addVoucher($("voucher-input").value); });
  $("voucher-input").addEventListener("keydown", function (ev) {
    // A handheld scanner types the code and presses Enter: add it rather than send the purchase.
    if (ev.key === "Enter") { ev.preventDefault(); addVoucher($("voucher-input").value); }
  });
  $("undo").addEventListener("click", undo);
  $("retry").addEventListener("click", function () { if (pending) send(pending); });
  $("logout").addEventListener("click", function () { signOut(null); });
  $("scan-start").addEventListener("click", function () {
    startCamera(function (raw) {
      $("card-input").value = raw;
      lookUp(raw);
    });
  });
  $("voucher-scan").addEventListener("click", function () {
    startCamera(function (raw) {
      $("voucher-input").value = raw;
      addVoucher(raw);
    });
  });
  $("scan-stop").addEventListener("click", stopCamera);
  $("card-close").addEventListener("click", function () {
    card = null; lastOp = null; pending = null;
    vouchers = [];
    renderVouchers();
    $("card-input").value = "";
    clearOutcome();
    showView();
    $("card-input").focus();
  });

  clearOutcome();
  showView();
})();
