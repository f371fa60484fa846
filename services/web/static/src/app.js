// JetDeck console behaviour on top of htmx: the theme toggle, keyboard shortcuts, menus.
// Everything here is an enhancement: pages read and work without it.
(function () {
  "use strict";
  var THEME_KEY = "jetdeck-theme";
  var root = document.documentElement;

  function currentTheme() {
    if (root.dataset.theme) return root.dataset.theme;
    return window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
  }

  function showToggle(button) {
    var next = currentTheme() === "dark" ? "light" : "dark";
    button.textContent = next === "dark" ? "Dark theme" : "Light theme";
    button.setAttribute("aria-label", "Switch to " + next + " theme");
    button.hidden = false;
  }

  function setUp() {
    document.querySelectorAll("[data-theme-toggle]").forEach(function (button) {
      showToggle(button);
      button.addEventListener("click", function () {
        var next = currentTheme() === "dark" ? "light" : "dark";
        root.dataset.theme = next;
        try { localStorage.setItem(THEME_KEY, next); } catch (e) { /* private mode */ }
        showToggle(button);
      });
    });
    document.querySelectorAll("[data-open-dialog]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () {
        openDialog(button.getAttribute("data-open-dialog"));
      });
    });
  }

  function openDialog(id) {
    var dialog = document.getElementById(id);
    if (dialog && !dialog.open) dialog.showModal();
  }

  function typing(target) {
    var tag = target && target.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || (target && target.isContentEditable);
  }

  // `/` focuses the page's search; `?` lists the shortcuts; Escape closes open menus.
  document.addEventListener("keydown", function (event) {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    if (event.key === "Escape") {
      document.querySelectorAll("details[data-menu][open]").forEach(function (menu) { menu.open = false; });
      return;
    }
    if (typing(event.target) || document.querySelector("dialog[open]")) return;
    if (event.key === "/") {
      var search = document.querySelector("[data-search], main input[type=search]");
      if (search) { event.preventDefault(); search.focus(); search.select && search.select(); }
    } else if (event.key === "?") {
      event.preventDefault();
      openDialog("shortcuts");
    }
  });

  // A click outside an open menu closes it.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("details[data-menu][open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.open = false;
    });
  });

  // A confirm-by-typing form enables its button only once the name matches (the server
  // checks the name all the same).
  function syncConfirm(input) {
    var button = input.form && input.form.querySelector("button[type=submit]");
    if (button) button.disabled = input.value !== input.getAttribute("data-confirm-name");
  }
  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("[data-confirm-name]")) syncConfirm(event.target);
  });
  // New content (the page, or a fragment htmx swapped in).
  document.addEventListener("htmx:load", function (event) {
    event.detail.elt.querySelectorAll("[data-confirm-name]").forEach(syncConfirm);
  });

  // A copy button (`data-copy="ID"`) copies that input's value; shown only with JavaScript.
  function setUpCopy(scope) {
    scope.querySelectorAll("[data-copy]").forEach(function (button) {
      button.hidden = false;
      if (button.dataset.copyReady) return;
      button.dataset.copyReady = "1";
      button.addEventListener("click", function () {
        var field = document.getElementById(button.getAttribute("data-copy"));
        if (!field) return;
        field.select();
        var done = function () { button.textContent = "Copied"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(field.value).then(done, function () { document.execCommand("copy"); done(); });
        } else { document.execCommand("copy"); done(); }
      });
    });
  }
  document.addEventListener("htmx:load", function (event) { setUpCopy(event.detail.elt); });
  document.addEventListener("DOMContentLoaded", function () { setUpCopy(document); });

  // A credentials fieldset shows only the inputs of the authentication type chosen
  // (without JavaScript all are shown, and the server ignores the others).
  function syncAuth(fieldset) {
    var select = fieldset.querySelector("select");
    fieldset.querySelectorAll("[data-auth-show]").forEach(function (part) {
      part.hidden = part.getAttribute("data-auth-show") !== select.value;
    });
    var hint = fieldset.querySelector("[data-auth-hint]");
    if (hint) hint.hidden = true;
  }
  document.addEventListener("change", function (event) {
    var fieldset = event.target.closest && event.target.closest("fieldset[data-auth]");
    if (fieldset && event.target.tagName === "SELECT") syncAuth(fieldset);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("fieldset[data-auth]").forEach(syncAuth);
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
