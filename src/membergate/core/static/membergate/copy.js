// Copy buttons: <button class="mg-copy" data-copy-target="ID"> copies the
// text of the element with that id. Uses the clipboard API where the browser
// offers it (secure pages), else a selected text area and execCommand, else
// leaves the text selected for the person to copy.
(function () {
  "use strict";

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.style.position = "fixed";
    area.style.opacity = "0";
    document.body.appendChild(area);
    area.select();
    var copied = false;
    try {
      copied = document.execCommand("copy");
    } catch (e) {
      copied = false;
    }
    document.body.removeChild(area);
    return copied;
  }

  function selectText(element) {
    var range = document.createRange();
    range.selectNodeContents(element);
    var selection = window.getSelection();
    selection.removeAllRanges();
    selection.addRange(range);
  }

  function report(button, message) {
    var label = button.getAttribute("data-label") || button.textContent;
    button.setAttribute("data-label", label);
    button.textContent = message;
    window.setTimeout(function () {
      button.textContent = label;
    }, 2000);
  }

  function copy(button) {
    var target = document.getElementById(button.getAttribute("data-copy-target"));
    if (!target) {
      return;
    }
    var text = "value" in target && target.tagName !== "BUTTON"
      ? target.value
      : target.textContent.trim();
    button.setAttribute("data-copied", text);
    var fallback = function () {
      if (fallbackCopy(text)) {
        report(button, "Copied");
      } else {
        selectText(target);
        report(button, "Press Ctrl+C");
      }
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () {
        report(button, "Copied");
      }, fallback);
    } else {
      fallback();
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest(".mg-copy") : null;
    if (button) {
      event.preventDefault();
      copy(button);
    }
  });
})();
