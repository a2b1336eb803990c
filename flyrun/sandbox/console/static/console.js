// flyrun sandbox console: refresh a live execution, and send gate signals and terminations through the REST API.
(function () {
  "use strict";

  let timer = null;
  let delay = 1000;  // grows with the page's cost: a 1,000-node run is not re-fetched every second

  function root() { return document.getElementById("execution") || document.getElementById("content"); }
  function summary() { const r = root(); return r ? r.querySelector(".summary") : null; }

  function executionId() {
    const s = summary().dataset;
    return { project: s.project, domain: s.domain, name: s.name };
  }

  function headers(extra) {
    // With `flyrun sandbox start --auth`, the console keeps the bearer token it was given in this tab only.
    const token = sessionStorage.getItem("flyrunToken");
    return Object.assign(token ? { Authorization: "Bearer " + token } : {}, extra || {});
  }

  function schedule() {
    const s = summary();
    if (s && s.dataset.final !== "true") {
      timer = setTimeout(refresh, delay);
    }
  }

  async function refresh() {
    const r = root();
    if (!r) { return; }
    const typing = document.activeElement && document.activeElement.closest(".signal-form");
    if (!typing) {
      try {
        const started = performance.now();
        const query = new URLSearchParams(location.search);  // a filtered list keeps its filters
        query.set("fragment", "1");
        const response = await fetch(location.pathname + "?" + query, { headers: headers() });
        if (response.status === 401) {
          sessionStorage.removeItem("flyrunToken");
          signInBox(r);
          return;
        }
        if (response.ok || response.status === 404) {
          const text = await response.text();
          delay = Math.min(10000, Math.max(1000, 10 * (performance.now() - started)));
          // Keyboard users keep their place: the graph node, toggle (or link) that had focus gets it back.
          const focused = document.activeElement && document.activeElement.closest("[data-toggle],[data-node-id]");
          const mark = focused && focused.hasAttribute("data-toggle") ? "data-toggle" : "data-node-id";
          // An open deck panel stays open (its iframe reloads; decks only appear once their node is done).
          const open = Array.from(r.querySelectorAll("details[open][data-key]"), function (d) { return d.dataset.key; });
          r.innerHTML = text;
          open.forEach(function (key) {
            const again = r.querySelector('details[data-key="' + CSS.escape(key) + '"]');
            if (again) { again.open = true; }
          });
          delete r.dataset.auth;
          if (focused) {
            const again = r.querySelector(focused.tagName + "[" + mark + '="' + CSS.escape(focused.getAttribute(mark)) + '"]');
            if (again && again.focus) { again.focus(); }
          }
        }
      } catch (error) { /* the server may be restarting; try again */ }
    }
    schedule();
  }

  // -- signing in (only with `flyrun sandbox start --auth`): the OAuth 2.0 device flow, from the page ------------
  function signInBox(r) {
    r.innerHTML = '<section class="signin"><p>This sandbox requires signing in.</p>' +
      '<button class="sign-in" type="button">Sign in</button><p class="signin-status"></p></section>';
  }

  async function signIn(button) {
    button.disabled = true;
    const status = button.parentElement.querySelector(".signin-status");
    const form = new URLSearchParams({ client_id: "flytectl", scope: "all offline" });
    const grant = await (await fetch("/oauth2/device_authorization", { method: "POST", body: form })).json();
    const link = grant.verification_uri + "?user_code=" + encodeURIComponent(grant.user_code);
    status.innerHTML = 'Open <a class="activate" target="_blank" href="' + link + '">' + grant.verification_uri +
      "</a> and approve the code <strong>" + grant.user_code + "</strong>.";
    const poll = new URLSearchParams({ grant_type: "urn:ietf:params:oauth:grant-type:device_code",
      client_id: "flytectl", device_code: grant.device_code });
    let interval = (grant.interval || 5) * 1000;
    for (;;) {
      await new Promise(function (done) { setTimeout(done, interval); });
      const answer = await (await fetch("/oauth2/token", { method: "POST", body: poll })).json();
      if (answer.access_token) {
        sessionStorage.setItem("flyrunToken", answer.access_token);
        refresh();
        return;
      }
      if (answer.error === "slow_down") { interval += 5000; }
      else if (answer.error !== "authorization_pending") {
        status.textContent = "Sign-in failed: " + (answer.error_description || answer.error);
        button.disabled = false;
        return;
      }
    }
  }

  function showError(gate, message) {
    const box = gate.querySelector(".gate-error");
    box.textContent = message;
    box.hidden = false;
  }

  async function call(method, url, body) {
    const response = await fetch(url, {
      method: method, headers: headers({ "Content-Type": "application/json" }), body: JSON.stringify(body),
    });
    if (response.ok) { return null; }
    try { return (await response.json()).message; } catch (error) { return response.statusText; }
  }

  async function sendSignal(gate, literal) {
    gate.querySelectorAll("button").forEach(function (b) { b.disabled = true; });
    const problem = await call("POST", "/api/v1/signals", {
      id: { signal_id: gate.dataset.signalId, execution_id: executionId() }, value: literal,
    });
    if (problem) {
      showError(gate, problem);
      gate.querySelectorAll("button").forEach(function (b) { b.disabled = false; });
      return;
    }
    clearTimeout(timer);
    refresh();
  }

  function primitive(simple, text) {
    switch (simple) {
      case "INTEGER":
        if (!/^-?\d+$/.test(text.trim())) { throw new Error("enter a whole number"); }
        return { integer: text.trim() };
      case "FLOAT":
        if (isNaN(Number(text))) { throw new Error("enter a number"); }
        return { float_value: Number(text) };
      case "BOOLEAN":
        if (!/^(true|false)$/i.test(text.trim())) { throw new Error("enter true or false"); }
        return { boolean: text.trim().toLowerCase() === "true" };
      case "DATETIME": return { datetime: new Date(text).toISOString() };
      case "DURATION": return { duration: text.trim() };
      default: return { string_value: text };
    }
  }

  function literalFor(type, text) {
    if (type.simple && type.simple !== "STRUCT" && type.simple !== "NONE") {
      return { scalar: { primitive: primitive(type.simple, text) } };
    }
    return JSON.parse(text);  // any other type: the Literal itself, as protojson
  }

  document.addEventListener("click", function (event) {
    const button = event.target.closest("button");
    if (!button) { return; }
    if (button.classList.contains("sign-in")) { signIn(button); return; }
    const gate = button.closest(".gate");
    if (gate && (button.classList.contains("approve") || button.classList.contains("reject"))) {
      const approved = button.classList.contains("approve");
      sendSignal(gate, { scalar: { primitive: { boolean: approved } } });
    } else if (button.classList.contains("terminate")) {
      const id = executionId();
      const url = "/api/v1/executions/" + [id.project, id.domain, id.name].map(encodeURIComponent).join("/");
      call("DELETE", url, { cause: "terminated from the console" }).then(function () { clearTimeout(timer); refresh(); });
    }
  });

  // -- the launch form: its fields become the inputs of POST /api/v1/executions, the API every client uses ------
  async function launch(form) {
    const box = form.querySelector(".launch-error");
    const literals = {};
    for (const field of form.querySelectorAll("[data-input]")) {
      const text = field.value;
      if (text.trim() === "") {
        if (field.required) { return showLaunchError(box, field.dataset.input + ": enter a value"); }
        continue;  // left empty: the launch plan's default, if it has one (the server says if it has none)
      }
      try {
        literals[field.dataset.input] = literalFor(JSON.parse(field.dataset.type), text);
      } catch (error) {
        return showLaunchError(box, field.dataset.input + ": " + error.message);
      }
    }
    const plan = JSON.parse(form.dataset.launchPlan);
    form.querySelector("button[type=submit]").disabled = true;
    try {
      const response = await fetch("/api/v1/executions", {
        method: "POST", headers: headers({ "Content-Type": "application/json" }),
        body: JSON.stringify({ project: plan.project, domain: plan.domain, spec: { launch_plan: plan },
          inputs: { literals: literals } }),
      });
      const answer = await response.json();
      if (!response.ok) { throw new Error(answer.message || response.statusText); }
      const id = answer.id;
      location.assign("/console/projects/" + [id.project, "domains", id.domain, "executions", id.name]
        .map(encodeURIComponent).join("/"));
    } catch (error) {
      showLaunchError(box, error.message);
      form.querySelector("button[type=submit]").disabled = false;
    }
  }

  document.addEventListener("input", function (event) {
    const form = event.target.closest("form.launch");
    if (form) { form.querySelector(".launch-error").hidden = true; }  // a corrected field: the old message goes
  });

  function showLaunchError(box, message) {
    box.textContent = message;
    box.hidden = false;
  }

  document.addEventListener("submit", function (event) {
    const launchForm = event.target.closest("form.launch");
    if (launchForm) {
      event.preventDefault();
      launch(launchForm);
      return;
    }
    const form = event.target.closest(".signal-form");
    if (!form) { return; }
    event.preventDefault();
    const gate = form.closest(".gate");
    try {
      const literal = literalFor(JSON.parse(form.dataset.type), form.elements.value.value);
      document.activeElement.blur();
      sendSignal(gate, literal);
    } catch (error) {
      showError(gate, error.message);
    }
  });

  const start = root();
  if (start && start.dataset.auth === "required") {
    if (sessionStorage.getItem("flyrunToken")) { refresh(); } else { signInBox(start); }
  } else {
    schedule();
  }
}());
