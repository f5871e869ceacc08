// The explorer's panels, built from the list /api/model serves (keras_vis/explorer/panels.py):
// each panel gets a box in its scope's container, a heading, its intro and the control its
// `control` names; it is redrawn when a chosen value its endpoint names changes.
"use strict";

const panels = [];  // {spec, box, draw}

// What the page has chosen, by the names endpoints give them.
function chosen() {
  return { image: state.image, layer: state.layer, class: state.klass };
}

// `endpoint` with every {name} replaced by its value.
function fill(endpoint, values) {
  return endpoint.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(values[name]));
}

// Whether a panel applies now: its `needs` field of the chosen layer or of the model is set.
function applies(spec) {
  if (!spec.needs) return true;
  const [where, field] = spec.needs.split(".");
  const source = where === "model" ? state.model : layerRow(state.layer);
  return Boolean(source && source[field]);
}

function buildPanels(specs) {
  for (const spec of specs) {
    const own = spec.scope === "model";  // a section of its own
    const heading = element(own ? "h2" : "h3", {}, spec.title);
    const box = element(own ? "section" : "div",
      { id: `panel-${spec.id}`, class: `panel panel-${spec.control}`, "data-panel": spec.id },
      heading, element("p", { class: "hint intro" }, spec.intro));
    $(`${spec.scope}-panels`).append(box);
    const panel = { spec, box, draw: CONTROLS[spec.control](spec, box, heading) };
    panels.push(panel);
    const values = chosen();
    if (!spec.names.some((name) => name in values)) redraw(panel, values, []);
  }
}

// Redraws the panels whose endpoint names one of the changed values.
function changed(...names) {
  const values = chosen();
  for (const panel of panels) {
    if (panel.spec.names.some((name) => names.includes(name))) redraw(panel, values, names);
  }
}

// A panel drawn for `values`, hidden where it does not apply, blank (null) until every chosen
// value its endpoint names is known.
function redraw(panel, values, names) {
  panel.box.hidden = !applies(panel.spec);
  if (panel.box.hidden) return;
  const ready = panel.spec.names.every((name) => !(name in values) || values[name] !== null);
  panel.draw(ready ? values : null, names);
}

// The value a control adds to the chosen ones: the endpoint's one name that is not chosen.
function ownName(spec) {
  const values = chosen();
  return spec.names.find((name) => !(name in values));
}

const CONTROLS = {
  // A picture of the chosen layer's items, a page at a time.
  pages(spec, box) {
    const buttons = [-1, 1].map((step) => element("button", {
      type: "button", "data-step": step,
      "aria-label": `${step < 0 ? "Previous" : "Next"} ${spec.items}`,
    }, step < 0 ? "◀" : "▶"));
    const range = element("span", { class: "range" });
    const img = element("img", { class: "picture", alt: spec.alt });
    const error = element("p", { class: "error", role: "alert" });
    box.append(element("div", { class: "pager" }, buttons[0], range, buttons[1]), img, error);
    const name = ownName(spec);
    let values = null;
    let page = 0;

    function show(target) {
      page = target;
      const count = layerRow(values.layer)[spec.count];
      const size = state.model.page_size;
      const pages = Math.max(1, Math.ceil(count / size));
      range.textContent = `${page * size}–${Math.min(count, (page + 1) * size) - 1} of ${count}`;
      for (const button of buttons) {
        const next = page + Number(button.dataset.step);
        button.disabled = next < 0 || next >= pages;
        button.onclick = () => show(next);
      }
      showPicture(img, fill(spec.endpoint, { ...values, [name]: page }), error);
    }

    return (given, names) => {
      values = given;
      if (names.includes("layer")) page = 0;
      if (values) show(page);
      else img.removeAttribute("src");
    };
  },

  // One item of the chosen layer rendered in the background, with its progress.
  job(spec, box) {
    const name = ownName(spec);
    const input = element("input", { type: "number", min: 0, value: 0 });
    const button = element("button", { type: "button", class: "start" }, spec.action);
    const bar = element("progress", { max: 1, value: 0, "aria-label": `${spec.title}: progress` });
    const note = element("span", { class: "hint status", role: "status" });
    const img = element("img", { class: "result", alt: spec.alt });
    const label = name.charAt(0).toUpperCase() + name.slice(1);
    box.append(element("label", {}, `${label} `, input), " ", button, bar, note, img);
    let values = null;
    let current = null;  // the job whose progress is shown

    button.addEventListener("click", async () => {
      img.removeAttribute("src");
      note.textContent = "Starting…";
      try {
        let job = await api(fill(spec.endpoint, { ...values, [name]: input.value }),
          { method: "POST" });
        current = job.id;
        while (job.state === "queued" || job.state === "running") {
          bar.max = job.steps;
          bar.value = job.step;
          note.textContent = job.state === "queued" ? "Waiting for the render before…"
            : `Step ${job.step} of ${job.steps}`;
          await new Promise((done) => setTimeout(done, 250));
          job = await api(`/api/jobs/${job.id}`);
        }
        if (current !== job.id) return;  // another item was asked for meanwhile
        if (job.state === "failed") throw new Error(job.error);
        bar.value = bar.max;
        note.textContent = `${job.title}, ${job.seconds} s`;
        img.src = job.image;
      } catch (error) {
        note.textContent = error.message;
      }
    });

    return (given) => {
      values = given;
      current = null;
      img.removeAttribute("src");
      note.textContent = "";
      bar.value = 0;
      button.disabled = !values;
      if (!values) return;
      const count = layerRow(values.layer)[spec.count];
      input.max = count - 1;
      input.value = Math.min(Number(input.value) || 0, count - 1);
    };
  },

  // Captioned pictures computed when the button is pressed.
  pictures(spec, box) {
    const button = element("button", { type: "button", class: "start" }, spec.action);
    const where = element("div", { class: "pictures" });
    box.append(button, where);
    let values = null;
    button.addEventListener("click", () => showPictures(where, fill(spec.endpoint, values), button));
    return (given) => {
      values = given;
      where.textContent = "";
      button.disabled = !values;
    };
  },

  // A card per method of the registry, each the picture of its map for the class.
  methods(spec, box) {
    const where = element("div", { class: "families" });
    box.append(where);
    const name = ownName(spec);
    return (values) => {
      where.textContent = "";
      if (!values) return;
      for (const [heading, methods] of families(state.model.methods)) {
        const cards = element("div", { class: "cards" });
        where.append(element("div", { class: "family" }, element("h4", {}, heading), cards));
        for (const method of methods) {
          cards.append(methodCard(method, fill(spec.endpoint, { ...values, [name]: method.name })));
        }
      }
    };
  },

  // A picture whose cells say what they hold when pointed at or clicked.
  atlas(spec, box, heading) {
    const detail = element("p", { class: "hint detail" });
    const img = element("img", { class: "picture", alt: spec.alt });
    const mark = element("div", { class: "atlas-mark", hidden: true });
    const cell = element("p", { class: "atlas-cell" });
    box.append(detail, element("div", { class: "frame" }, img, mark), cell);
    return async () => {
      let atlas;
      try {
        atlas = await api(fill(spec.endpoint, {}));
      } catch (error) {
        detail.textContent = error.message;
        return;
      }
      heading.append(" ", element("span", { class: "subject" }, atlas.layer));
      showPicture(img, atlas.image, detail);  // its failure replaces the detail
      detail.textContent = `${atlas.cells.length} of ${atlas.grid}×${atlas.grid} cells hold ` +
        `some of the ${atlas.samples} activation vectors, laid out by ${atlas.method}; each ` +
        "shows the image that maximizes its mean vector.";
      followCells(atlas, img, mark, cell);
    };
  },
};

// --- what the controls draw ---------------------------------------------------------------------

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

// The methods by family, in the registry's order: [[heading, methods], ...].
function families(methods) {
  const found = new Map();
  for (const method of methods) {
    if (!found.has(method.family_heading)) found.set(method.family_heading, []);
    found.get(method.family_heading).push(method);
  }
  return found;
}

function methodCard(method, url) {
  const note = element("p", {}, method.unavailable || method.caption);
  const img = element("img", { alt: method.title, "data-method": method.name });
  const card = element("div", {
    class: method.unavailable ? "card unavailable" : "card", "data-method": method.name,
  }, element("h5", {}, method.title), img, note);
  if (Object.keys(method.options).length) {
    card.append(element("p", { class: "options" }, optionsText(method.options)));
  }
  if (!method.unavailable) {
    img.onerror = async () => {
      try { await api(url); } catch (error) {
        note.textContent = error.message;
        card.classList.add("unavailable");
      }
    };
    img.src = url;
  }
  return card;
}

// The options a method was computed with, as the server gives them: "masks 300 · seed 0".
function optionsText(options) {
  return Object.entries(options)
    .map(([name, value]) => `${name} ${Array.isArray(value) ? value.join(", ") : value}`)
    .join(" · ");
}

// --- the cells of an atlas ----------------------------------------------------------------------

function followCells(atlas, img, mark, where) {
  const cells = new Map(atlas.cells.map((found) => [`${found.row},${found.column}`, found]));
  let clicked = null;
  const show = (place) => showAtlasCell(atlas, cells, place, mark, where);
  show(null);
  img.addEventListener("mousemove", (event) => show(atlasCellAt(event, atlas.grid)));
  img.addEventListener("mouseleave", () => show(clicked));
  img.addEventListener("click", (event) => {
    clicked = atlasCellAt(event, atlas.grid);
    show(clicked);
  });
}

// The grid cell under the pointer: row 0 at the top, column 0 on the left.
function atlasCellAt(event, grid) {
  const box = event.currentTarget.getBoundingClientRect();
  const index = (offset, length) =>
    Math.min(grid - 1, Math.max(0, Math.floor(offset / length * grid)));
  return { row: index(event.clientY - box.top, box.height),
           column: index(event.clientX - box.left, box.width) };
}

function showAtlasCell(atlas, cells, place, mark, where) {
  mark.hidden = !place;
  if (!place) {
    where.textContent = "Click or point at a cell to see its class.";
    delete where.dataset.row;
    delete where.dataset.column;
    return;
  }
  const { row, column } = place;
  const side = 100 / atlas.grid;
  Object.assign(mark.style, { top: `${row * side}%`, left: `${column * side}%`,
                              width: `${side}%`, height: `${side}%` });
  where.dataset.row = row;
  where.dataset.column = column;
  const cell = cells.get(`${row},${column}`);
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
