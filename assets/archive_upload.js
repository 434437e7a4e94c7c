// Resumable archive uploads for the archives page (pages/archives.py). Each chosen or dropped
// file is sent to /api/archive-uploads in chunks (File.slice), in order, each at the offset the
// server has. A network error or a server away is retried with backoff: the server is asked how
// far it got and the upload goes on from there. An upload is remembered in localStorage by the
// file's name, size and date, so choosing the same file again after a reload resumes it. When a
// file is complete, the page's hidden #archive-upload-done button tells the page to refresh.
(function () {
  "use strict";
  if (window.__archiveUploadInstalled) return;
  window.__archiveUploadInstalled = true;

  const API = "/api/archive-uploads";
  const CHUNK_BYTES = 8 * 1024 * 1024; // the server's limit per request
  const HEADERS = { "X-Archive-Upload": "1" };
  const SUFFIXES = [".pst", ".ost", ".mbox", ".mbx", ".mbs", ".eml"];
  const STORE_PREFIX = "crm-archive-upload:";
  const MAX_TRIES = 12; // ~6 minutes of backoff before giving up on a file
  const ZONE = "#archive-upload";

  class Refused extends Error {} // the server said no: retrying would not help

  const chunkBytes = () =>
    Math.min(Number(window.archiveUploadChunkBytes) || CHUNK_BYTES, CHUNK_BYTES);
  const storeKey = (file) => STORE_PREFIX + [file.name, file.size, file.lastModified].join("|");
  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  function remembered(file) {
    try {
      return window.localStorage.getItem(storeKey(file));
    } catch (e) {
      return null; // storage off: the upload just cannot resume after a reload
    }
  }
  function remember(file, uploadId) {
    try {
      if (uploadId) window.localStorage.setItem(storeKey(file), uploadId);
      else window.localStorage.removeItem(storeKey(file));
    } catch (e) {
      /* storage off */
    }
  }

  function sayBytes(n) {
    if (n >= 1 << 30) return (n / (1 << 30)).toFixed(2) + " GB";
    if (n >= 1 << 20) return (n / (1 << 20)).toFixed(1) + " MB";
    return Math.ceil(n / 1024) + " KB";
  }

  async function errorOf(response) {
    try {
      const body = await response.json();
      return body.error || body.detail || "The upload was refused (" + response.status + ").";
    } catch (e) {
      return "The upload was refused (" + response.status + ").";
    }
  }

  // fetch, retried with backoff while the network or the server is away; `again` is run
  // before each retry (to ask for the offset). A 4xx is the server's answer, returned as is.
  async function patiently(row, send, again) {
    for (let attempt = 0; ; attempt++) {
      if (row.cancelled) throw new Refused("Cancelled.");
      let response = null;
      try {
        response = await send();
      } catch (e) {
        if (row.cancelled) throw new Refused("Cancelled.");
      }
      if (response && response.status < 500) return response;
      if (attempt + 1 >= MAX_TRIES) {
        throw new Refused("The server could not be reached: choose the file again to resume.");
      }
      const wait = Math.min(30000, 500 * 2 ** attempt);
      row.say("connection lost, retrying in " + Math.round(wait / 1000) + " s");
      await sleep(wait);
      if (again) await again();
    }
  }

  function progressRow(file) {
    const list = document.getElementById("archive-upload-progress");
    const item = document.createElement("div");
    item.className = "archive-upload-item";
    const name = document.createElement("span");
    name.className = "archive-upload-name";
    name.textContent = file.name;
    const bar = document.createElement("progress");
    bar.max = 100;
    bar.value = 0;
    const text = document.createElement("span");
    text.className = "archive-upload-text";
    const cancel = document.createElement("button");
    cancel.type = "button";
    cancel.textContent = "Cancel";
    cancel.className = "archive-upload-cancel";
    item.append(name, bar, text, cancel);
    if (list) list.append(item);
    const row = {
      cancelled: false,
      controller: null,
      uploadId: null,
      item: item,
      say(message) {
        text.textContent = message;
      },
      progress(offset) {
        const percent = file.size ? Math.floor((offset * 100) / file.size) : 100;
        bar.value = percent;
        text.textContent = sayBytes(offset) + " of " + sayBytes(file.size) + " (" + percent + "%)";
      },
      finished(message, failed) {
        cancel.remove();
        bar.value = failed ? bar.value : 100;
        text.textContent = message;
        item.dataset.state = failed ? "failed" : "done";
      },
    };
    cancel.addEventListener("click", () => {
      row.cancelled = true;
      if (row.controller) row.controller.abort();
      if (row.uploadId) {
        fetch(API + "/" + row.uploadId, { method: "DELETE", headers: HEADERS }).catch(() => {});
      }
      remember(file, null);
    });
    return row;
  }

  async function start(file, options, row) {
    const known = remembered(file);
    if (known) {
      const response = await patiently(row, () =>
        fetch(API + "/" + known, { method: "HEAD", headers: HEADERS }),
      );
      if (response.ok) return [known, Number(response.headers.get("Upload-Offset"))];
      remember(file, null); // finished, cancelled or cleaned up meanwhile: start over
    }
    const response = await patiently(row, () =>
      fetch(API, {
        method: "POST",
        headers: { ...HEADERS, "Content-Type": "application/json" },
        body: JSON.stringify({ file_name: file.name, total_bytes: file.size, ...options }),
      }),
    );
    if (response.status !== 201) throw new Refused(await errorOf(response));
    const created = await response.json();
    remember(file, created.upload_id);
    return [created.upload_id, 0];
  }

  async function upload(file, options) {
    const row = progressRow(file);
    try {
      if (!SUFFIXES.some((suffix) => file.name.toLowerCase().endsWith(suffix))) {
        throw new Refused(file.name + ": choose a PST, OST, mbox or EML file.");
      }
      let [uploadId, offset] = await start(file, options, row);
      row.uploadId = uploadId;
      const url = API + "/" + uploadId;
      const askOffset = async () => {
        try {
          const response = await fetch(url, { method: "HEAD", headers: HEADERS });
          if (response.ok) offset = Number(response.headers.get("Upload-Offset"));
        } catch (e) {
          /* still away: the next attempt asks again */
        }
      };
      row.progress(offset);
      let busyWaits = 0;
      while (offset < file.size) {
        const response = await patiently(
          row,
          () => {
            row.controller = new AbortController();
            return fetch(url, {
              method: "PATCH",
              headers: {
                ...HEADERS,
                "Upload-Offset": String(offset),
                "Content-Type": "application/offset+octet-stream",
              },
              body: file.slice(offset, offset + chunkBytes()),
              signal: row.controller.signal,
            });
          },
          askOffset,
        );
        const reached = response.headers.get("Upload-Offset");
        if ((response.status === 204 || response.status === 409) && reached !== null) {
          // 409: the server has a different count (a chunk cut short): go on from its offset.
          offset = Number(reached);
          row.progress(offset);
          continue;
        }
        if (response.status === 409 && busyWaits++ < 60) {
          // The request a dropped connection left behind still holds the upload: let it end.
          await sleep(1000);
          await askOffset();
          continue;
        }
        if (response.status === 404) remember(file, null);
        throw new Refused(await errorOf(response));
      }
      row.say("finishing…");
      const done = await patiently(row, () => fetch(url + "/complete", { method: "POST", headers: HEADERS }));
      if (!done.ok) throw new Refused(await errorOf(done));
      remember(file, null);
      row.finished(sayBytes(file.size) + " received: queued for import", false);
      return true;
    } catch (error) {
      const message = error instanceof Refused ? error.message : "The upload failed: choose the file again to resume.";
      row.finished(message, true);
      return false;
    }
  }

  let queue = Promise.resolve();
  function uploadAll(files) {
    const zone = document.querySelector(ZONE);
    if (!zone || !files.length) return;
    // What the page shows at the moment the files are chosen (the server checks it again).
    const options = {
      label: zone.dataset.label || "",
      client_email: zone.dataset.clientEmail || "",
      confidential: zone.dataset.confidential === "true",
    };
    for (const file of files) {
      queue = queue.then(async () => {
        if (await upload(file, options)) {
          const done = document.getElementById("archive-upload-done");
          if (done) done.click();
        }
      });
    }
  }

  // Delegated: the page is rendered (and re-rendered) by React after this script has run.
  document.addEventListener("change", (event) => {
    const input = event.target;
    if (input instanceof HTMLInputElement && input.matches(ZONE + " input[type=file]")) {
      uploadAll(Array.from(input.files || []));
      input.value = ""; // choosing the same file again (to resume it) fires change again
    }
  });
  document.addEventListener("click", (event) => {
    const zone = event.target instanceof Element && event.target.closest(ZONE);
    if (zone && !(event.target instanceof HTMLInputElement)) {
      const input = zone.querySelector("input[type=file]");
      if (input) input.click();
    }
  });
  document.addEventListener("keydown", (event) => {
    const zone = event.target instanceof Element && event.target.matches(ZONE) && event.target;
    if (zone && (event.key === "Enter" || event.key === " ")) {
      event.preventDefault();
      const input = zone.querySelector("input[type=file]");
      if (input) input.click();
    }
  });
  for (const type of ["dragenter", "dragover"]) {
    document.addEventListener(type, (event) => {
      const zone = event.target instanceof Element && event.target.closest(ZONE);
      if (zone) {
        event.preventDefault();
        zone.dataset.dragging = "true";
      }
    });
  }
  document.addEventListener("dragleave", (event) => {
    const zone = event.target instanceof Element && event.target.closest(ZONE);
    if (zone && !zone.contains(event.relatedTarget)) delete zone.dataset.dragging;
  });
  document.addEventListener("drop", (event) => {
    const zone = event.target instanceof Element && event.target.closest(ZONE);
    if (!zone) return;
    event.preventDefault();
    delete zone.dataset.dragging;
    uploadAll(Array.from((event.dataTransfer && event.dataTransfer.files) || []));
  });
})();
