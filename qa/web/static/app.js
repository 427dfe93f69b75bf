// Optional polish; the page works the same without it (the CSP allows only this static file).
// While a question is being answered, say so and prevent double submits.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form.ask");
  if (!form) return;
  var button = form.querySelector("button");
  if (!button) return;
  var label = button.textContent;
  form.addEventListener("submit", function () {
    button.disabled = true;
    button.textContent = "Searching…";
  });
  // coming back through the history cache must not leave the button disabled
  window.addEventListener("pageshow", function () {
    button.disabled = false;
    button.textContent = label;
  });
});
