// The explorer page: every picture comes from the server's /api endpoints.
"use strict";

const state = {
  model: null,
  images: [],
  image: null,        // id of the chosen image
  layer: null,        // path of the chosen layer
  klass: null,        // the explained class index
  predicted: null,    // the chosen image's predicted class
  featurePage: 0,
  filterPage: 0,
  job: null,
  atlas: null,        // /api/atlas, once loaded
  atlasCells: null,   // its cells by "row,column"
  atlasCell: null,    // the clicked cell, {row, column}
};

const $ = (id) => document.getElementById(id);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-")) node.setAttribute(key, value);
    else node[key] = value;
  }
  for (const child of children) {
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

function query(parameters) {
  return new URLSearchParams(parameters).toString();
}

async function api(url, options = {}) {
  const response = await fetch(url, options);
  const text = await response.text();
  let body = null;
  try { body = text ? JSON.parse(text) : null; } catch (error) { body = null; }
  if (!response.ok) {
    throw new Error((body && body.error) || `${response.status} ${response.statusText}`);
  }
  return body;
}

function status(text) {
  $("status").textContent = text;
}

// An <img> whose failure shows the server's message in `where`.
function showPicture(img, url, where) {
  if (where) where.textContent = "";
  img.onerror = async () => {
    try { await api(url); } catch (error) { if (where) where.textContent = error.message; }
  };
  img.src = url;
}

// --- layers ------------------------------------------------------------------------------------

function buildTree(layers) {
  const root = $("layer-tree");
  root.textContent = "";
  const stack = [{ depth: -1, list: root }];
  layers.forEach((layer, index) => {
    while (stack[stack.length - 1].depth >= layer.depth) stack.pop();
    const parent = stack[stack.length - 1].list;
    const next = layers[index + 1];
    const shape = layer.output_shape ? `(${layer.output_shape.map((d) => d ?? "N").join(", ")})` : "";
    if (next && next.depth > layer.depth) {  // a nested model: its layers follow, deeper
      const list = element("ul");
      parent.append(element("li", { class: "group" },
        element("details", { open: true },
          element("summary", {}, layer.name, element("span", { class: "type" }, layer.type)),
          list)));
      stack.push({ depth: layer.depth, list });
      return;
    }
    const item = element("li", {
      class: layer.features ? "layer" : "layer flat", "data-path": layer.path,
      title: `${layer.type} ${shape}${layer.features ? "" : " (no feature maps)"}`,
    }, layer.name, element("span", { class: "type" }, `${layer.type} ${shape}`));
    if (layer.features) item.addEventListener("click", () => selectLayer(layer.path));
    parent.append(item);
  });
}

function layerRow(path) {
  return state.model.layers.find((layer) => layer.path === path);
}

function selectLayer(path) {
  state.layer = path;
  state.featurePage = 0;
  state.filterPage = 0;
  for (const item of document.querySelectorAll("#layer-tree li.layer")) {
    item.classList.toggle("selected", item.dataset.path === path);
  }
  const row = layerRow(path);
  $("layer-title").textContent = path;
  $("layer-detail").textContent =
    `${row.type}, ${row.channels} channels of ${row.output_shape.slice(1, 3).join("×")}`;
  $("channel").max = row.channels - 1;
  $("channel").value = Math.min(Number($("channel").value) || 0, row.channels - 1);
  $("filters-block").hidden = !row.filters_count;
  $("deconv").textContent = "";
  $("maximized").removeAttribute("src");
  $("maximize-status").textContent = "";
  $("maximize-progress").value = 0;
  showFeatures();
  showFilters();
}

function pager(id, page, count, show) {
  const size = state.model.page_size;
  const pages = Math.max(1, Math.ceil(count / size));
  const block = $(id);
  block.querySelector(".range").textContent =
    `${page * size}–${Math.min(count, (page + 1) * size) - 1} of ${count}`;
  for (const button of block.querySelectorAll("button")) {
    const target = page + Number(button.dataset.step);
    button.disabled = target < 0 || target >= pages;
    button.onclick = () => show(target);
  }
}

function showFeatures(page = state.featurePage) {
  state.featurePage = page;
  const row = layerRow(state.layer);
  pager("features-pager", page, row.channels, showFeatures);
  showPicture($("features"), `/api/images/${state.image}/features?` +
    query({ layer: state.layer, page }), $("layer-detail"));
}

function showFilters(page = state.filterPage) {
  const row = layerRow(state.layer);
  if (!row.filters_count) return;
  state.filterPage = page;
  pager("filters-pager", page, row.filters_count, showFilters);
  showPicture($("filters"), "/api/filters?" + query({ layer: state.layer, page }),
    $("layer-detail"));
}

async function maximizeChannel() {
  const channel = $("channel").value;
  $("maximized").removeAttribute("src");
  $("maximize-status").textContent = "Starting…";
  try {
    let job = await api("/api/maximize?" + query({ layer: state.layer, channel }),
      { method: "POST" });
    state.job = job.id;
    while (job.state === "queued" || job.state === "running") {
      $("maximize-progress").max = job.steps;
      $("maximize-progress").value = job.step;
      $("maximize-status").textContent = job.state === "queued" ? "Waiting for the render before…"
        : `Step ${job.step} of ${job.steps}`;
      await new Promise((done) => setTimeout(done, 250));
      job = await api(`/api/jobs/${job.id}`);
    }
    if (state.job !== job.id) return;  // another channel was asked for meanwhile
    if (job.state === "failed") throw new Error(job.error);
    $("maximize-progress").value = $("maximize-progress").max;
    $("maximize-status").textContent = `${job.title}, ${job.seconds} s`;
    $("maximized").src = job.image;
  } catch (error) {
    $("maximize-status").textContent = error.message;
  }
}

async function showPictures(where, url, button) {
  where.textContent = "";
  button.disabled = true;
  where.append(element("p", { class: "hint" }, "Computing…"));
  try {
    const pictures = await api(url);
    where.textContent = "";
    for (const picture of pictures) {
      where.append(element("figure", {},
        element("img", { src: picture.png, alt: picture.title }),
        element("figcaption", {}, element("strong", {}, picture.title), " ",
          picture.detail ? `${picture.detail}. ` : "", picture.caption)));
    }
  } catch (error) {
    where.textContent = "";
    where.append(element("p", { class: "error" }, error.message));
  } finally {
    button.disabled = false;
  }
}

// --- the activation atlas --------------------------------------------------------------------

async function showAtlas() {
  try {
    state.atlas = await api("/api/atlas");
  } catch (error) {
    $("atlas-section").hidden = false;
    $("atlas-detail").textContent = error.message;
    return;
  }
  const atlas = state.atlas;
  state.atlasCells = new Map(atlas.cells.map((cell) => [`${cell.row},${cell.column}`, cell]));
  $("atlas-section").hidden = false;
  $("atlas-title").textContent = atlas.layer;
  const img = $("atlas");
  showPicture(img, "/api/atlas.png", $("atlas-detail"));  // its failure replaces the detail
  $("atlas-detail").textContent = `${atlas.cells.length} of ${atlas.grid}×${atlas.grid} cells ` +
    `hold some of the ${atlas.samples} activation vectors, laid out by ${atlas.method}; each ` +
    "shows the image that maximizes its mean vector.";
  img.addEventListener("mousemove", (event) => showAtlasCell(atlasCellAt(event)));
  img.addEventListener("mouseleave", () => showAtlasCell(state.atlasCell));
  img.addEventListener("click", (event) => {
    state.atlasCell = atlasCellAt(event);
    showAtlasCell(state.atlasCell);
  });
}

// The grid cell under the pointer: row 0 at the top, column 0 on the left.
function atlasCellAt(event) {
  const box = event.currentTarget.getBoundingClientRect();
  const grid = state.atlas.grid;
  const index = (offset, length) =>
    Math.min(grid - 1, Math.max(0, Math.floor(offset / length * grid)));
  return { row: index(event.clientY - box.top, box.height),
           column: index(event.clientX - box.left, box.width) };
}

function showAtlasCell(place) {
  const where = $("atlas-cell");
  const mark = $("atlas-mark");
  mark.hidden = !place;
  if (!place) {
    where.textContent = "Click or point at a cell to see its class.";
    delete where.dataset.row;
    delete where.dataset.column;
    return;
  }
  const { row, column } = place;
  const side = 100 / state.atlas.grid;
  Object.assign(mark.style, { top: `${row * side}%`, left: `${column * side}%`,
                              width: `${side}%`, height: `${side}%` });
  where.dataset.row = row;
  where.dataset.column = column;
  const cell = state.atlasCells.get(`${row},${column}`);
  const at = `Row ${row}, column ${column}: `;
  if (!cell) {
    where.textContent = at + "empty cell";
    return;
  }
  where.textContent = "";
  where.append(at, element("strong", {}, cell.class_name),
    `, ${cell.count} activation vector${cell.count === 1 ? "" : "s"}, ` +
    `${(100 * cell.share).toFixed(0)} % of them from images the model predicts as it`);
}

// --- images, predictions, classes -------------------------------------------------------------

function showImages() {
  const strip = $("images");
  strip.textContent = "";
  for (const image of state.images) {
    const button = element("button", {
      type: "button", class: image.id === state.image ? "selected" : "",
      "data-image": image.id, title: image.name,
    }, element("img", { src: image.url, alt: image.name }), image.name);
    button.addEventListener("click", () => selectImage(image.id));
    strip.append(button);
  }
}

async function selectImage(id) {
  state.image = id;
  showImages();
  const image = state.images.find((found) => found.id === id);
  $("current-image").src = image.url;
  $("current-name").textContent = image.name;
  $("occlusion").textContent = "";
  $("deconv").textContent = "";
  if (state.layer) showFeatures(state.featurePage);
  const predictions = await api(`/api/images/${id}/predictions`);
  if (state.image !== id) return;
  state.predicted = predictions[0].index;
  const list = $("predictions");
  list.textContent = "";
  for (const prediction of predictions) {
    const value = state.model.probabilities ? `${(100 * prediction.score).toFixed(1)} %`
      : prediction.score.toPrecision(3);
    const width = state.model.probabilities ? Math.round(120 * prediction.score) : 0;
    const item = element("li", { "data-class": prediction.index, title: "Explain this class" },
      `${prediction.name} `, value, element("span", { class: "bar", style: "" }));
    item.querySelector(".bar").style.width = `${width}px`;
    item.addEventListener("click", () => selectClass(prediction.index));
    list.append(item);
  }
  list.dataset.image = id;
  selectClass(state.predicted);
}

function selectClass(index) {
  state.klass = Number(index);
  $("class-select").value = String(state.klass);
  const name = state.model.classes[state.klass];
  $("class-name").textContent = state.klass === state.predicted ? `${name} (predicted)` : name;
  $("occlusion").textContent = "";
  showExplanations();
}

function showExplanations() {
  const where = $("methods");
  where.textContent = "";
  const families = new Map();
  for (const method of state.model.methods) {
    if (!families.has(method.family)) families.set(method.family, { heading: method.family_heading, methods: [] });
    families.get(method.family).methods.push(method);
  }
  for (const family of families.values()) {
    const cards = element("div", { class: "cards" });
    where.append(element("div", { class: "family" }, element("h3", {}, family.heading), cards));
    for (const method of family.methods) {
      const note = element("p", {}, method.unavailable || method.caption);
      const img = element("img", { alt: method.title, "data-method": method.name });
      const card = element("div", {
        class: method.unavailable ? "card unavailable" : "card", "data-method": method.name,
      }, element("h4", {}, method.title), img, note);
      if (Object.keys(method.options).length) {
        card.append(element("p", { class: "options" }, optionsText(method.options)));
      }
      cards.append(card);
      if (!method.unavailable) {
        const url = `/api/images/${state.image}/explanation?` +
          query({ method: method.name, class: state.klass });
        img.onerror = async () => {
          try { await api(url); } catch (error) { note.textContent = error.message; card.classList.add("unavailable"); }
        };
        img.src = url;
      }
    }
  }
}

// The options a method was computed with, as the server gives them: "masks 300 · seed 0".
function optionsText(options) {
  return Object.entries(options)
    .map(([name, value]) => `${name} ${Array.isArray(value) ? value.join(", ") : value}`)
    .join(" · ");
}

async function upload(file) {
  $("upload-error").textContent = "";
  if (file.size > state.model.max_upload_bytes) {
    $("upload-error").textContent = `${file.name} is ${(file.size / 2 ** 20).toFixed(1)} MiB; ` +
      `the explorer takes images up to ${(state.model.max_upload_bytes / 2 ** 20).toFixed(1)} MiB.`;
    return;
  }
  status(`Uploading ${file.name}…`);
  try {
    const added = await api("/api/images?" + query({ name: file.name }),
      { method: "POST", body: file, headers: { "Content-Type": "application/octet-stream" } });
    state.images = await api("/api/images");
    await selectImage(added.id);
    status("Ready");
  } catch (error) {
    $("upload-error").textContent = error.message;
    status("Ready");
  }
}

function setUpUploads() {
  $("upload").addEventListener("change", (event) => {
    if (event.target.files.length) upload(event.target.files[0]);
    event.target.value = "";
  });
  const drop = $("drop");
  for (const name of ["dragenter", "dragover"]) {
    drop.addEventListener(name, (event) => { event.preventDefault(); drop.classList.add("over"); });
  }
  for (const name of ["dragleave", "drop"]) {
    drop.addEventListener(name, () => drop.classList.remove("over"));
  }
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.dataTransfer.files.length) upload(event.dataTransfer.files[0]);
  });
  // Dropping anywhere else on the page uploads too, rather than opening the file.
  document.addEventListener("dragover", (event) => event.preventDefault());
  document.addEventListener("drop", (event) => {
    event.preventDefault();
    if (event.target !== drop && event.dataTransfer.files.length) upload(event.dataTransfer.files[0]);
  });
}

async function start() {
  try {
    state.model = await api("/api/model");
    state.images = await api("/api/images");
  } catch (error) {
    status(`Could not load the model: ${error.message}`);
    return;
  }
  const model = state.model;
  $("model-name").textContent = `${model.name} · input ${model.input_size.join("×")} · ` +
    `${model.classes.length} classes`;
  document.title = `keras-vis explorer: ${model.name}`;
  buildTree(model.layers);
  const select = $("class-select");
  model.classes.forEach((name, index) => select.append(element("option", { value: index }, `${index}: ${name}`)));
  select.addEventListener("change", () => selectClass(select.value));
  $("maximize").addEventListener("click", maximizeChannel);
  $("deconv-button").addEventListener("click", () => showPictures($("deconv"),
    `/api/images/${state.image}/deconv?` + query({ layer: state.layer }), $("deconv-button")));
  $("occlusion-button").addEventListener("click", () => showPictures($("occlusion"),
    `/api/images/${state.image}/occlusion?` + query({ class: state.klass }), $("occlusion-button")));
  setUpUploads();
  if (model.atlas) showAtlas();
  state.image = state.images[0].id;
  selectLayer(model.default_layer);
  await selectImage(state.image);
  status("Ready");
}

start();
