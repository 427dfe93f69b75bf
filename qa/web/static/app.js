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

// "Add documents": send the files with the token as a bearer header, show the upload's progress
// and the report the API gives back (or its error message).
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form.upload");
  if (!form) return;
  var button = form.querySelector("button");
  var bar = form.querySelector("progress.upload-progress");
  var status = form.querySelector(".upload-status");
  var report = document.querySelector("section.upload-report");

  function fill(name, items) {
    var dd = report.querySelector("dd." + name);
    dd.textContent = "";
    if (!items.length) { dd.textContent = "none"; return; }
    var ul = document.createElement("ul");
    items.forEach(function (text) {
      var li = document.createElement("li");
      li.textContent = text;
      ul.appendChild(li);
    });
    dd.appendChild(ul);
  }

  function done(ok, message) {
    button.disabled = false;
    status.textContent = message;
    status.className = "upload-status " + (ok ? "ok" : "error");
  }

  function mib(bytes) { return (bytes / 1048576).toFixed(1) + " MiB"; }

  // The server refuses an upload over its limits anyway (413), but only after it was sent; a
  // file's size is known here, so say at once which file is too large.
  function sizeProblem(files) {
    var maxFile = Number(form.dataset.maxFileBytes);
    var maxUpload = Number(form.dataset.maxUploadBytes);
    var total = 0;
    var large = [];
    for (var i = 0; i < files.length; i++) {
      total += files[i].size;
      if (files[i].size > maxFile) large.push(files[i].name + " (" + mib(files[i].size) + ")");
    }
    if (large.length) {
      return large.join(", ") + (large.length > 1 ? " are" : " is") + " over the limit of " +
        mib(maxFile) + " per file.";
    }
    if (total > maxUpload) {
      return "the files come to " + mib(total) + "; an upload may carry " + mib(maxUpload) +
        ": send fewer at a time.";
    }
    return null;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var data = new FormData();
    var files = form.querySelector("input[type=file]").files;
    var problem = sizeProblem(files);
    if (problem) {
      report.hidden = true;
      done(false, "Nothing was sent: " + problem);
      return;
    }
    for (var i = 0; i < files.length; i++) data.append("files", files[i], files[i].name);
    var xhr = new XMLHttpRequest();
    xhr.open("POST", form.dataset.endpoint);
    xhr.setRequestHeader("Authorization", "Bearer " + form.querySelector("#token").value);
    xhr.setRequestHeader("Accept", "application/json");
    xhr.upload.addEventListener("progress", function (e) {
      if (e.lengthComputable) bar.value = Math.round((100 * e.loaded) / e.total);
    });
    xhr.upload.addEventListener("load", function () {
      bar.value = 100;
      status.textContent = "Indexing…";
    });
    xhr.addEventListener("load", function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status === 200 && body) {
        fill("added", body.added);
        fill("replaced", body.replaced);
        fill("unchanged", body.unchanged);
        fill("refused", (body.problems || []).map(function (p) { return p.path + ": " + p.reason; }));
        report.hidden = false;
        done(true, "Done: " + body.chunks + " passages written.");
      } else {
        var message = body && body.error ? body.error.message : "HTTP " + xhr.status;
        report.hidden = true;
        done(false, "Nothing was added: " + message);
      }
    });
    xhr.addEventListener("error", function () { done(false, "The upload failed (network error)."); });
    button.disabled = true;
    bar.hidden = false;
    bar.value = 0;
    status.className = "upload-status";
    status.textContent = "Uploading…";
    xhr.send(data);
  });
});
