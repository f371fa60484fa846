// JetDeck config forms (stream and consumer create/edit): the raw JSON tab says at once
// whether its text is valid JSON, and Ctrl/Cmd+Enter submits the form. The Form/JSON tabs
// themselves round-trip through the server, so the forms work without this file.
(function () {
  "use strict";
  if (window.jetdeckConfigForm) return;
  window.jetdeckConfigForm = true;

  function check(area) {
    var message = "";
    try {
      var value = JSON.parse(area.value || "{}");
      if (value === null || typeof value !== "object" || Array.isArray(value)) message = "A config is a JSON object";
    } catch (e) {
      message = "Not valid JSON: " + e.message;
    }
    area.setCustomValidity(message);
    var hint = document.getElementById(area.id + "-live");
    if (!hint) {
      hint = document.createElement("p");
      hint.id = area.id + "-live";
      hint.className = "field-error";
      hint.setAttribute("aria-live", "polite");
      area.insertAdjacentElement("afterend", hint);
    }
    hint.textContent = message;
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches(".config-form textarea[name=json]")) check(event.target);
  });
  document.addEventListener("keydown", function (event) {
    var area = event.target;
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    if (!(area.matches && area.matches(".config-form textarea"))) return;
    event.preventDefault();
    if (area.form && area.form.requestSubmit) area.form.requestSubmit();
  });
})();
