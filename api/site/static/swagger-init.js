// Starts Swagger UI on /apidocs/ (api/templates/flasgger/index.html) with this API's contract only.
// A static file, so the page's Content-Security-Policy needs no 'unsafe-inline' for scripts.
// queryConfigEnabled: false (also Swagger UI 5's default, stated here on purpose): ?url= and
// ?configUrl= / ?config= in the page's address are ignored, so no other contract is shown under this site.
window.addEventListener("DOMContentLoaded", function () {
  "use strict";
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: false,          // a deep link is an <a> inside each operation's button (nested-interactive, 16 px targets)
    queryConfigEnabled: false,
    validatorUrl: null,          // no badge fetched from validator.swagger.io
    displayOperationId: true,
    tryItOutEnabled: false,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",        // no top bar: it has the field that loads another contract's URL
    onComplete: label
  });
  // Swagger UI's own controls that have no accessible name get one (the servers chooser's <label> is empty).
  function label() {
    var servers = document.querySelector("select#servers");
    if (servers && !servers.getAttribute("aria-label")) { servers.setAttribute("aria-label", "Servers"); }
  }
  new MutationObserver(label).observe(document.getElementById("swagger-ui"), {childList: true, subtree: true});
});
