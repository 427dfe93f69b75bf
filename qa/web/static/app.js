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

// "Add documents": send the files with the token as a bearer header, show the upload's progress,
// then what the index did with each document, or, in plain words, why nothing was added. The
// API's messages are written for programs; a person at this form gets sentences.
document.addEventListener("DOMContentLoaded", function () {
  var form = document.querySelector("form.upload");
  if (!form) return;
  var button = form.querySelector("button");
  var bar = form.querySelector("progress.upload-progress");
  var status = form.querySelector(".upload-status");
  var problemList = form.querySelector(".upload-problems");
  var report = document.querySelector("section.upload-report");

  function plural(n, word) { return n + " " + word + (n === 1 ? "" : "s"); }
  function mib(bytes) { return (bytes / 1048576).toFixed(1) + " MiB"; }

  function documentLink(id) {
    var a = document.createElement("a");
    a.href = form.dataset.documentUrl.replace("__id__", encodeURIComponent(id));
    a.textContent = id;
    return a;
  }

  function fill(name, ids) {
    report.querySelector(".count." + name).textContent = "(" + ids.length + ")";
    var dd = report.querySelector("dd." + name);
    dd.textContent = "";
    if (!ids.length) { dd.textContent = "none"; return; }
    var ul = document.createElement("ul");
    ids.forEach(function (id) {
      var li = document.createElement("li");
      li.appendChild(documentLink(id));
      ul.appendChild(li);
    });
    dd.appendChild(ul);
  }

  function showProblems(problems) {
    problemList.textContent = "";
    problems.forEach(function (p) {
      var li = document.createElement("li");
      var name = document.createElement("strong");
      name.textContent = p.path;
      li.appendChild(name);
      li.appendChild(document.createTextNode(": " + p.reason));
      problemList.appendChild(li);
    });
    problemList.hidden = !problems.length;
  }

  function succeeded(body) {
    fill("added", body.added);
    fill("replaced", body.replaced);
    fill("unchanged", body.unchanged);
    report.hidden = false;
    showProblems([]);
    button.disabled = false;
    status.className = "upload-status ok";
    status.textContent = "Done: " + plural(body.added.length, "document") + " added, " +
      body.replaced.length + " replaced, " + body.unchanged.length + " unchanged.";
  }

  // An error leaves the form as it was before the upload: no report, no full progress bar.
  function failed(message, problems) {
    report.hidden = true;
    bar.hidden = true;
    bar.value = 0;
    button.disabled = false;
    status.className = "upload-status error";
    status.textContent = message;
    showProblems(problems || []);
  }

  function explain(code, body) {
    var error = (body && body.error) || {};
    var problems = error.problems || [];
    if (code === 401) return ["Nothing was added: that is not this server's API token. Check it and try again."];
    if (code === 403) return ["Nothing was added: this server takes no uploads (it was started without an API token)."];
    if (code === 409) return ["Nothing was added: the index is busy with another change. Try again in a moment."];
    if (code === 429) return ["Nothing was added: too many uploads in a short time. Wait a minute and try again."];
    if (code === 413 && problems.length) {
      return ["Nothing was added: " + (problems.length === 1 ? "this file is" : "these files are") + " too large.", problems];
    }
    if (code === 413) {
      return ["Nothing was added: the upload is larger than this server takes (" + mib(Number(form.dataset.maxUploadBytes)) + "). Send fewer files at a time."];
    }
    if (code === 400 && problems.length) {
      return ["Nothing was added: " + (problems.length === 1 ? "this file could" : "these files could") + " not be read.", problems];
    }
    if (code >= 500 || !error.message) {
      return ["Nothing was added: the server could not take the upload (error " + code + "). Try again later."];
    }
    return ["Nothing was added: " + error.message + "."];
  }

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
      failed("Nothing was sent: " + problem);
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
      status.textContent = "Reading and indexing the documents…";
    });
    xhr.addEventListener("load", function () {
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status === 200 && body) {
        succeeded(body);
      } else {
        var told = explain(xhr.status, body);
        failed(told[0], told[1]);
      }
    });
    xhr.addEventListener("error", function () {
      failed("Nothing was added: the upload did not reach the server (network error).");
    });
    button.disabled = true;
    report.hidden = true;
    showProblems([]);
    bar.hidden = false;
    bar.value = 0;
    status.className = "upload-status";
    status.textContent = "Uploading…";
    xhr.send(data);
  });
});
