// The pages' copy buttons (a link, a citation): progressive enhancement. Without this script the buttons stay hidden
// and the text is there to select; with it, each <button class="copy" data-copy="ID"> copies the text of #ID.
document.addEventListener("DOMContentLoaded", function () {
  "use strict";
  var status = document.getElementById("copy-status");
  function copied(ok) {
    if (status) { status.textContent = ok ? "已复制 Copied" : "无法复制，请手动选择 Could not copy: select the text"; }
  }
  function fallback(node) {
    var range = document.createRange();
    range.selectNodeContents(node);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    copied(ok);
  }
  Array.prototype.forEach.call(document.querySelectorAll("button.copy[data-copy]"), function (button) {
    var node = document.getElementById(button.getAttribute("data-copy"));
    if (!node) { return; }
    button.hidden = false;
    button.addEventListener("click", function () {
      var text = node.textContent.trim();
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(function () { copied(true); }, function () { fallback(node); });
      } else {
        fallback(node);
      }
    });
  });
});
