// Loaded first on every page (a plain <script src> in the document's head, from this origin, so
// the content security policy lets it run and it runs before the frontend starts).
//
// A browser that blocks third-party cookies refuses storage to a page framed by another site:
// reading window.localStorage throws a SecurityError (Chromium: "Access is denied for this
// document"). The frontend reads it as it starts, so the web chat widget framed on the firm's
// website would never render. There, and only there, this puts an in-memory storage in its
// place: the framed chat works, it only forgets its conversation on reload.
(function () {
  "use strict";
  ["localStorage", "sessionStorage"].forEach(function (name) {
    try {
      window[name].getItem("probe");
      return; // storage works: leave it alone
    } catch (refused) {
      // fall through: give this page a storage of its own
    }
    var data = {};
    var has = function (key) {
      return Object.prototype.hasOwnProperty.call(data, key);
    };
    var memory = {
      getItem: function (key) { return has(key) ? data[key] : null; },
      setItem: function (key, value) { data[String(key)] = String(value); },
      removeItem: function (key) { delete data[key]; },
      clear: function () { data = {}; },
      key: function (index) {
        var keys = Object.keys(data);
        return index < keys.length ? keys[index] : null;
      },
      get length() { return Object.keys(data).length; },
    };
    try {
      Object.defineProperty(window, name, { value: memory, configurable: true });
    } catch (unused) {
      // a browser that will not let it be replaced: nothing more to do
    }
  });
})();
