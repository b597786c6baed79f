// The console's one script: the earning rule's example, live as the fields change. The page works
// without it (the example shown is the saved rule's, computed on the server).
(function () {
  "use strict";
  var example = document.getElementById("earn-example");
  if (!example) return;
  function cents(text) {
    var m = /^\s*(\d{1,9})(?:[.,](\d{0,2}))?\s*$/.exec(text || "");
    return m ? parseInt(m[1], 10) * 100 + parseInt(((m[2] || "") + "00").slice(0, 2), 10) : null;
  }
  function money(c) {
    var fr = document.documentElement.lang === "fr", cur = example.dataset.currency;
    var s = Math.floor(c / 100) + (fr ? "," : ".") + String(c % 100).padStart(2, "0");
    return cur === "EUR" ? (fr ? s + "\u00a0€" : "€" + s) : s + "\u00a0" + cur;
  }
  function update() {
    var points = parseInt(document.getElementById("earn_points").value, 10);
    var per = cents(document.getElementById("earn_per").value);
    var min = cents(document.getElementById("earn_min").value) || 0;
    var mode = document.getElementById("earn_rounding").value;
    if (isNaN(points) || !per) return;
    var amount = 1250, exact = amount * points / per;
    var earned = amount < min ? 0 : mode === "up" ? Math.ceil(exact) : mode === "nearest" ? Math.floor(exact + 0.5) : Math.floor(exact);
    example.textContent = example.dataset.template.replace("{amount}", money(amount)).replace("{count}", earned);
  }
  ["earn_points", "earn_per", "earn_min", "earn_rounding"].forEach(function (id) {
    var el = document.getElementById(id);
    if (el) el.addEventListener("input", update);
  });
})();
// The design preview follows the colours, the text and the files chosen, before they are saved.
(function () {
  "use strict";
  var preview = document.getElementById("pass-preview");
  if (!preview) return;
  [["background_color", "--bg"], ["foreground_color", "--fg"], ["label_color", "--lb"]].forEach(function (pair) {
    var input = document.getElementById(pair[0]);
    if (input) input.addEventListener("input", function () { preview.style.setProperty(pair[1], input.value); });
  });
  var text = document.getElementById("logo_text"), shown = document.getElementById("preview-logo-text");
  if (text && shown) text.addEventListener("input", function () { shown.textContent = text.value || text.placeholder; });
  [["logo", "preview-logo", ".pass-head"], ["strip", "preview-strip", ".pass-head"]].forEach(function (f) {
    var input = document.getElementById(f[0]);
    if (!input) return;
    input.addEventListener("change", function () {
      var file = input.files && input.files[0];
      if (!file) return;
      var img = document.getElementById(f[1]);
      if (!img) {
        img = document.createElement("img");
        img.id = f[1];
        img.alt = "";
        var head = preview.querySelector(f[2]);
        if (f[0] === "logo") head.insertBefore(img, head.firstChild);
        else { img.className = "pass-strip"; head.parentNode.insertBefore(img, head.nextSibling); }
      }
      img.src = URL.createObjectURL(file);
    });
  });
})();
