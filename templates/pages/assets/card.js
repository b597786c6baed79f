// The card page's one interaction: share the referral link (Web Share API), or copy it.
(function () {
  "use strict";
  var button = document.getElementById("share");
  var input = document.getElementById("referral-url");
  var status = document.getElementById("share-status");
  if (!button || !input) return;
  button.addEventListener("click", function () {
    var url = input.value;
    if (navigator.share) {
      navigator.share({ title: button.dataset.title, text: button.dataset.text, url: url }).catch(function () {});
      return;
    }
    var done = function () { status.textContent = button.dataset.copied; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(url).then(done, function () { input.select(); document.execCommand("copy"); done(); });
    } else {
      input.select();
      document.execCommand("copy");
      done();
    }
  });
})();
