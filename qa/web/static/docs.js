// /docs: Swagger UI over this server's spec. A static file: the CSP allows no inline script.
document.addEventListener("DOMContentLoaded", function () {
  var root = document.getElementById("swagger-ui");
  if (!root || !window.SwaggerUIBundle) return;
  window.ui = window.SwaggerUIBundle({
    url: root.dataset.spec,
    domNode: root,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // Swagger UI would send the spec to validator.swagger.io for a badge: nothing leaves here
    validatorUrl: null,
  });
});
