// The explorer page: every picture comes from the server's /api endpoints; the panels are built
// by panels.js from the list /api/model serves.
"use strict";

const state = {
  model: null,
  images: [],
  image: null,        // id of the chosen image
  layer: null,        // path of the chosen layer
  klass: null,        // the explained class index, null until the image's predictions arrive
  predicted: null,    // the chosen image's predicted class
};

const $ = (id) => document.getElementById(id);

function element(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attributes)) {
    if (key === "class") node.className = value;
    else if (key.startsWith("data-") || key.startsWith("aria-") || key === "role") {
      node.setAttribute(key, value);
    } else node[key] = value;
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
  for (const item of document.querySelectorAll("#layer-tree li.layer")) {
    item.classList.toggle("selected", item.dataset.path === path);
  }
  const row = layerRow(path);
  $("layer-title").textContent = path;
  $("layer-detail").textContent =
    `${row.type}, ${row.channels} channels of ${row.output_shape.slice(1, 3).join("×")}`;
  changed("layer");
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
  state.klass = null;  // until the image's predictions say which class to explain
  showImages();
  const image = state.images.find((found) => found.id === id);
  $("current-image").src = image.url;
  $("current-name").textContent = image.name;
  changed("image", "class");
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
  changed("class");
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
  buildPanels(model.panels);
  setUpUploads();
  state.image = state.images[0].id;
  selectLayer(model.default_layer);
  await selectImage(state.image);
  status("Ready");
}

start();
