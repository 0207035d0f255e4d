"use strict";
// The submit form, generated from JSON Schemas: the job spec's own (JobCreate, in the page) and
// each component's params_schema (GET /v1/components). Every change is checked by a dry run;
// the server's field errors appear next to their fields. Submits with an Idempotency-Key.
(() => {
  const form = document.getElementById("submit-form");
  if (!form) return;
  const schema = JSON.parse(document.getElementById("job-schema").textContent);
  const prefill = JSON.parse(document.getElementById("job-prefill").textContent) || {};
  const fieldsEl = document.getElementById("form-fields");
  const formError = document.getElementById("form-error");
  const dryStatus = document.getElementById("dry-run-status");
  const COMPONENT_KINDS = ["module", "datamodule"];
  const idempotencyKey = newKey();
  let components = [];
  let sequence = 0, timer = 0;

  function newKey() {
    if (crypto.randomUUID) return crypto.randomUUID();
    const bytes = crypto.getRandomValues(new Uint8Array(16));  // outside secure contexts too
    return [...bytes].map((b) => b.toString(16).padStart(2, "0")).join("");
  }

  function resolve(prop, defs) {  // {$ref} -> its definition; anyOf [X, null] -> X, nullable
    let nullable = false, node = prop;
    if (node.anyOf) {
      const options = node.anyOf.filter((o) => o.type !== "null");
      nullable = options.length < node.anyOf.length;
      node = options.length === 1 ? { ...options[0], default: prop.default, description: prop.description } : { ...node, anyOf: options };
    }
    if (node.$ref) node = { ...defs[node.$ref.split("/").pop()], default: prop.default ?? node.default, description: prop.description || node.description };
    return { node, nullable };
  }

  function kindOf(node) {
    if (node.enum || node.const !== undefined) return "enum";
    if (node.anyOf) return node.anyOf.every((o) => o.const !== undefined || o.enum) ? "enum" : "mixed";
    if (node.type === "array") return ["integer", "number"].includes((node.items || {}).type) ? "numbers" : "strings";
    return node.type || "json";
  }

  function enumValues(node) {
    if (node.enum) return node.enum;
    if (node.const !== undefined) return [node.const];
    return node.anyOf.flatMap((o) => (o.enum ? o.enum : [o.const]));
  }

  // One labelled control with its error slot; data-path is the spec path the server names.
  function field(path, name, prop, defs, value) {
    const { node, nullable } = resolve(prop, defs);
    const kind = kindOf(node);
    const id = "f-" + path.replace(/[^A-Za-z0-9_-]/g, "-");
    const wrap = TY.element("div", { class: kind === "boolean" ? "field check" : "field" });
    const label = TY.element("label", { for: id }, name);  // the spec's own key
    let input;
    if (kind === "boolean" && !nullable) {
      input = TY.element("input", { type: "checkbox", id });
      input.checked = value ?? node.default ?? false;
      wrap.append(input, label);
    } else {
      if (kind === "enum" || kind === "boolean") {
        input = TY.element("select", { id });
        input.append(TY.element("option", { value: "" }, `(default${node.default != null ? ": " + node.default : ""})`));
        for (const option of kind === "boolean" ? [true, false] : enumValues(node)) {
          input.append(TY.element("option", { value: JSON.stringify(option) }, String(option)));
        }
        input.value = value == null ? "" : JSON.stringify(value);
      } else {
        input = TY.element(kind === "json" ? "textarea" : "input", { id, spellcheck: "false" });
        if (["integer", "number"].includes(kind)) input.setAttribute("inputmode", "decimal");
        input.value = value == null ? "" : kind === "json" ? JSON.stringify(value) : Array.isArray(value) ? value.join(", ") : String(value);
        if (node.default != null && kind !== "json") input.placeholder = String(node.default);
      }
      wrap.append(label, input);
    }
    input.dataset.path = path; input.dataset.kind = kind;
    const error = TY.element("p", { class: "field-error", id: id + "-error", "aria-live": "polite" });
    input.setAttribute("aria-describedby", id + "-error" + (node.description ? " " + id + "-hint" : ""));
    if (node.description) wrap.append(TY.element("span", { class: "hint", id: id + "-hint" }, node.description));
    wrap.append(error);
    return wrap;
  }

  function readValue(input) {
    const kind = input.dataset.kind, text = input.value.trim();
    if (input.type === "checkbox") return input.checked;
    if (text === "") return undefined;
    if (kind === "enum" || kind === "boolean") return JSON.parse(text);
    if (kind === "integer" || kind === "number" || kind === "mixed") return text !== "" && isFinite(Number(text)) ? Number(text) : text;
    if (kind === "numbers") return text.split(/[\s,]+/).filter(Boolean).map((v) => (isFinite(Number(v)) ? Number(v) : v));
    if (kind === "strings") return text.split(/[\s,]+/).filter(Boolean);
    try { return JSON.parse(text); } catch (e) { return text; }
  }

  function section(title, key) {
    const fieldset = TY.element("fieldset", { class: "form-section", "data-section": key });
    fieldset.append(TY.element("legend", {}, title));
    const grid = TY.element("div", { class: "form-grid" });
    fieldset.append(grid);
    return { fieldset, grid };
  }

  function componentSection(kind) {
    const { fieldset, grid } = section(kind, kind);
    const chosen = (prefill[kind] || {}).name;
    const options = components.filter((c) => c.kind === kind);
    const nameProp = { enum: options.map((c) => c.name), description: "A registered " + kind };
    const nameField = field(`${kind}.name`, "name", nameProp, {}, chosen ?? options[0]?.name);
    nameField.querySelector("option[value='']").remove();
    grid.append(nameField);
    const params = TY.element("div", { class: "form-grid", "data-params": kind });
    fieldset.append(params);
    const select = nameField.querySelector("select");
    const showParams = (values) => {
      params.textContent = "";
      const component = options.find((c) => c.name === JSON.parse(select.value || "null"));
      if (!component) return;
      const ps = component.params_schema;
      for (const [name, prop] of Object.entries(ps.properties || {})) {
        params.append(field(`${kind}.params.${name}`, name, prop, ps.$defs || {}, (values || {})[name]));
      }
    };
    showParams((prefill[kind] || {}).params);
    select.addEventListener("change", () => showParams({}));
    return fieldset;
  }

  function objectSection(key, prop) {
    const defs = schema.$defs || {};
    const { node, nullable } = resolve(prop, defs);
    const { fieldset, grid } = section(key, key);
    const present = prefill[key] != null;
    if (nullable) {
      const toggle = TY.element("input", { type: "checkbox", id: `enable-${key}`, "data-enables": key });
      toggle.checked = present;
      const wrap = TY.element("div", { class: "field check" });
      wrap.append(toggle, TY.element("label", { for: `enable-${key}` }, `Use ${key.replace(/_/g, " ")}`));
      fieldset.insertBefore(wrap, grid);
      const sync = () => { grid.hidden = !toggle.checked; };
      toggle.addEventListener("change", sync);
      sync();
    }
    for (const [name, child] of Object.entries(node.properties || {})) {
      grid.append(field(`${key}.${name}`, name, child, defs, (prefill[key] || {})[name]));
    }
    return fieldset;
  }

  function build() {
    fieldsEl.textContent = "";
    const defs = schema.$defs || {};
    const top = section("job", "job");
    const objects = [];
    for (const [key, prop] of Object.entries(schema.properties)) {
      if (COMPONENT_KINDS.includes(key)) continue;
      const { node } = resolve(prop, defs);
      if (node.type === "object" && node.properties) objects.push([key, prop]);
      else top.grid.append(field(key, key, prop, defs, prefill[key]));
    }
    fieldsEl.append(top.fieldset);
    for (const kind of COMPONENT_KINDS) fieldsEl.append(componentSection(kind));
    for (const [key, prop] of objects) fieldsEl.append(objectSection(key, prop));
  }

  function collect() {
    const spec = {};
    const disabled = new Set([...form.querySelectorAll("[data-enables]")].filter((t) => !t.checked).map((t) => t.dataset.enables));
    for (const input of form.querySelectorAll("[data-path]")) {
      const path = input.dataset.path.split(".");
      if (disabled.has(path[0])) continue;
      const value = readValue(input);
      if (value === undefined) continue;
      let node = spec;
      for (const part of path.slice(0, -1)) node = node[part] ??= {};
      node[path[path.length - 1]] = value;
    }
    for (const toggle of form.querySelectorAll("[data-enables]")) {
      if (toggle.checked && spec[toggle.dataset.enables] === undefined) spec[toggle.dataset.enables] = {};
    }
    for (const kind of COMPONENT_KINDS) { spec[kind] = spec[kind] || {}; spec[kind].params = spec[kind].params || {}; }
    return spec;
  }

  function showErrors(errors, detail) {
    for (const input of form.querySelectorAll("[data-path]")) {
      input.removeAttribute("aria-invalid");
      document.getElementById(input.id + "-error").textContent = "";
    }
    formError.hidden = true;
    const unplaced = [];
    for (const error of errors) {
      const parts = String(error.field || "").split(".");
      let input = null;
      while (parts.length && !input) {
        input = form.querySelector(`[data-path="${CSS.escape(parts.join("."))}"]`);
        parts.pop();
      }
      if (!input) { unplaced.push(`${error.field}: ${error.message}`); continue; }
      input.setAttribute("aria-invalid", "true");
      document.getElementById(input.id + "-error").textContent = error.message;
    }
    if (unplaced.length || (detail && !errors.length)) {
      formError.textContent = unplaced.length ? unplaced.join("; ") : detail;
      formError.hidden = false;
    }
  }

  async function send(dryRun) {
    const mine = ++sequence;
    const path = "/ui/api/v1/jobs" + (dryRun ? "?dry_run=true" : "");
    const headers = dryRun ? {} : { "Idempotency-Key": idempotencyKey };
    const response = await TY.api(path, { method: "POST", body: collect(), headers });
    if (mine !== sequence) return null;  // a newer check is on its way
    const data = response.data || {};
    showErrors(response.ok ? [] : data.errors || [], response.ok ? "" : data.detail || `HTTP ${response.status}`);
    dryStatus.textContent = response.ok ? (dryRun ? "The spec is valid." : "") : "Fix the marked fields.";
    form.dataset.checked = response.ok ? "valid" : "invalid";
    return response;
  }

  form.addEventListener("input", () => {
    clearTimeout(timer);
    dryStatus.textContent = "Checking…";
    timer = setTimeout(() => send(true), 300);
  });
  form.addEventListener("change", () => { clearTimeout(timer); timer = setTimeout(() => send(true), 50); });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    clearTimeout(timer);
    const response = await send(false);
    if (response && response.ok) location.assign(`/ui/jobs/${encodeURIComponent(response.data.id)}`);
  });

  TY.api("/ui/api/v1/components").then(({ ok, data }) => {
    if (!ok) { fieldsEl.textContent = "Could not load the components."; return; }
    components = data.items;
    build();
    form.dataset.ready = "true";
  });
})();
