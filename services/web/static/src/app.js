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

  // A "Copy" button copies the text of the element its data-copy names (a secret shown once).
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("[data-copy]");
    if (!button) return;
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source || !navigator.clipboard) return;
    navigator.clipboard.writeText(source.textContent.trim()).then(function () {
      button.textContent = "Copied";
    }, function () {});
  });

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", setUp);
  else setUp();
})();
