/* The gate and state explorer (rnnlab.diagnostics.explorer_html): inlined into the page.
 *
 * Reads the JSON in #explorer-data: tokens, their spans in the text, and per layer/direction
 * and kind a (tokens x units) float32 matrix in base64. Draws one heatmap row per unit over
 * the tokens; ranks units by AUROC or Pearson correlation with a per-token 0/1 track, from a
 * regex over the text or pasted directly. AUROC is the Mann-Whitney statistic with average
 * ranks for ties, as rnnlab.diagnostics.unit_search.rank_units computes it.
 */
(function () {
  "use strict";

  var ROW = 14;              // px per unit row (matches --row in the CSS)
  var MAX_WINDOW_PX = 12000; // canvas width per window of tokens (browsers cap canvas size)
  var data = JSON.parse(document.getElementById("explorer-data").textContent);
  var $ = function (id) { return document.getElementById(id); };
  var tokens = data.tokens;
  var T = tokens.length;

  function decode(b64) {
    var binary = atob(b64), bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return new Float32Array(bytes.buffer);
  }
  data.directions.forEach(function (direction) {
    direction.kinds.forEach(function (kind) { kind.values = decode(kind.data); delete kind.data; });
  });

  var state = {
    direction: 0, kind: 0, sort: data.sort, track: data.track, trackFrom: data.track_source,
    order: null, stats: null, selected: null, windowStart: 0
  };

  // ---- statistics ------------------------------------------------------------------------
  function column(view, unit) {
    var out = new Float64Array(T);
    for (var t = 0; t < T; t++) out[t] = view.values[t * view.units + unit];
    return out;
  }
  function auroc(values, track) {
    var index = [], n1 = 0, n0 = 0, i, j;
    for (i = 0; i < T; i++) { index.push(i); if (track[i]) n1++; else n0++; }
    if (!n1 || !n0) return NaN;
    index.sort(function (a, b) { return values[a] - values[b]; });
    var rankSum = 0;
    for (i = 0; i < T; i = j) {
      for (j = i; j < T && values[index[j]] === values[index[i]]; j++) { /* tie run */ }
      var rank = (i + 1 + j) / 2; // average of ranks i+1 .. j
      for (var k = i; k < j; k++) if (track[index[k]]) rankSum += rank;
    }
    return (rankSum - n1 * (n1 + 1) / 2) / (n1 * n0);
  }
  function pearson(values, track) {
    var mx = 0, my = 0, t;
    for (t = 0; t < T; t++) { mx += values[t]; my += track[t]; }
    mx /= T; my /= T;
    var sxy = 0, sxx = 0, syy = 0;
    for (t = 0; t < T; t++) {
      var dx = values[t] - mx, dy = track[t] - my;
      sxy += dx * dy; sxx += dx * dx; syy += dy * dy;
    }
    return sxx > 0 && syy > 0 ? Math.max(-1, Math.min(1, sxy / Math.sqrt(sxx * syy))) : NaN;
  }
  function isBinary(track) {
    for (var t = 0; t < T; t++) if (track[t] !== 0 && track[t] !== 1) return false;
    return true;
  }
  function computeStats(view) {
    if (!state.track) return null;
    var binary = isBinary(state.track), stats = [];
    for (var u = 0; u < view.units; u++) {
      var values = column(view, u);
      var a = binary ? auroc(values, state.track) : NaN, r = pearson(values, state.track);
      stats.push({ auroc: a, pearson: r,
                   aurocStrength: isNaN(a) ? 0 : Math.abs(a - 0.5) * 2,
                   pearsonStrength: isNaN(r) ? 0 : Math.abs(r) });
    }
    return stats;
  }
  function computeOrder(view) {
    var order = [];
    for (var u = 0; u < view.units; u++) order.push(u);
    var stats = state.stats, key = state.sort;
    if (!stats || key === "unit") return order;
    var first = key === "auroc" ? "aurocStrength" : "pearsonStrength";
    var second = key === "auroc" ? "pearsonStrength" : "aurocStrength";
    order.sort(function (a, b) {
      return (stats[b][first] - stats[a][first]) || (stats[b][second] - stats[a][second]) ||
             (a - b);
    });
    return order;
  }

  // ---- tracks ----------------------------------------------------------------------------
  function trackFromRegex(source, ignoreCase) {
    var regex = new RegExp(source, ignoreCase ? "gi" : "g"); // throws SyntaxError if invalid
    var inside = new Uint8Array(data.text.length + 1), match;
    while ((match = regex.exec(data.text)) !== null) {
      if (match[0].length === 0) { regex.lastIndex++; continue; } // empty matches mark nothing
      for (var c = match.index; c < match.index + match[0].length; c++) inside[c] = 1;
    }
    return data.spans.map(function (span) {
      for (var c = span[0]; c < span[1]; c++) if (inside[c]) return 1;
      return 0;
    });
  }
  function trackFromText(text) {
    var parts = text.trim().split(/[\s,]+/).filter(function (p) { return p.length; });
    if (parts.length !== T) {
      throw new Error("the track has " + parts.length + " value(s); it needs one per token (" +
                      T + ")");
    }
    return parts.map(function (p, i) {
      var v = Number(p);
      if (!isFinite(v)) throw new Error("track value " + (i + 1) + " is not a number: " + p);
      return v;
    });
  }
  function setStatus(message, kind) {
    var status = $("pattern-status");
    status.textContent = message;
    status.className = "status " + (kind || "");
  }
  function describeTrack() {
    if (!state.track) {
      setStatus("No pattern: units in index order. Type a regex over the text (or paste a " +
                "0/1 track) to rank units by how well they follow it.");
      return;
    }
    var on = 0, t;
    for (t = 0; t < T; t++) if (state.track[t]) on++;
    if (on === 0 || on === T) {
      setStatus("The " + state.trackFrom + " " + (on ? "marks every token" : "never matches") +
                " (" + on + " of " + T + " tokens): nothing to rank by. Change it so it holds " +
                "at some tokens and not at others.", "error");
      state.track = null;
      return;
    }
    setStatus("The " + state.trackFrom + " marks " + on + " of " + T + " tokens (underlined)." +
              (state.sort === "unit" ? " Sort by AUROC or correlation to rank the units." : ""),
              "ok");
  }
  function onPatternInput() {
    var source = $("pattern").value;
    $("track-input").value = "";
    if (!source) { state.track = null; state.trackFrom = null; return refresh(); }
    try {
      state.track = trackFromRegex(source, $("ignore-case").checked);
      state.trackFrom = "pattern";
    } catch (error) {
      state.track = null;
      setStatus("pattern: not a valid regular expression: " + error.message, "error");
      return redraw(false);
    }
    refresh();
  }
  function onTrackInput() {
    var text = $("track-input").value;
    if (!text.trim()) return onPatternInput();
    try {
      state.track = trackFromText(text);
      state.trackFrom = "track";
    } catch (error) {
      state.track = null;
      setStatus("track: " + error.message, "error");
      return redraw(false);
    }
    refresh();
  }

  // ---- colours ---------------------------------------------------------------------------
  function scaleOf(view) {
    if (view.min >= 0) return { from: 0, to: Math.max(view.max, 1e-6), diverging: false };
    var m = Math.max(Math.abs(view.min), Math.abs(view.max), 1e-6);
    return { from: -m, to: m, diverging: true };
  }
  function colour(value, scale, softness) {
    var s, r, g, b;
    if (scale.diverging) {
      s = Math.max(-1, Math.min(1, value / scale.to));
      if (s >= 0) { r = 255 - s * (255 - 178); g = 255 - s * (255 - 24); b = 255 - s * (255 - 43); }
      else { s = -s; r = 255 - s * (255 - 33); g = 255 - s * (255 - 102); b = 255 - s * (255 - 172); }
    } else {
      s = Math.max(0, Math.min(1, (value - scale.from) / (scale.to - scale.from)));
      r = 255 - s * (255 - 84); g = 255 - s * (255 - 39); b = 255 - s * (255 - 143);
    }
    if (softness) { // lighter, so text stays readable on top
      r += (255 - r) * softness; g += (255 - g) * softness; b += (255 - b) * softness;
    }
    return "rgb(" + Math.round(r) + "," + Math.round(g) + "," + Math.round(b) + ")";
  }
  function drawLegend(scale) {
    var canvas = $("legend-bar"), ctx = canvas.getContext("2d");
    for (var x = 0; x < canvas.width; x++) {
      ctx.fillStyle = colour(scale.from + (scale.to - scale.from) * x / (canvas.width - 1), scale);
      ctx.fillRect(x, 0, 1, canvas.height);
    }
    $("legend-from").textContent = scale.from.toPrecision(3);
    $("legend-to").textContent = scale.to.toPrecision(3);
  }

  // ---- layout ----------------------------------------------------------------------------
  var widths = (function () {
    var ctx = document.createElement("canvas").getContext("2d");
    ctx.font = "12px ui-monospace, SFMono-Regular, Menlo, Consolas, monospace";
    return tokens.map(function (token) {
      return Math.max(10, Math.min(90, Math.ceil(ctx.measureText(token).width) + 6));
    });
  })();
  function windowEnd(start) {
    var total = 0, t = start;
    while (t < T && (t === start || total + widths[t] <= MAX_WINDOW_PX)) total += widths[t++];
    return t;
  }
  function currentView() { return data.directions[state.direction].kinds[state.kind]; }
  function fmt(value) { return isNaN(value) ? "n/a" : value.toFixed(3); }

  function fillSelectors() {
    var direction = $("direction"), kind = $("kind");
    direction.innerHTML = "";
    data.directions.forEach(function (d, i) {
      var option = document.createElement("option");
      option.value = String(i);
      option.textContent = d.name + " (" + d.cell + ")";
      direction.appendChild(option);
    });
    direction.value = String(state.direction);
    var previous = kind.value || "h";
    kind.innerHTML = "";
    data.directions[state.direction].kinds.forEach(function (k, i) {
      var option = document.createElement("option");
      option.value = String(i);
      option.textContent = k.label;
      kind.appendChild(option);
    });
    var kinds = data.directions[state.direction].kinds;
    var keep = kinds.findIndex(function (k) { return k.kind === previous; });
    state.kind = keep >= 0 ? keep : 0;
    kind.value = String(state.kind);
    $("sort").value = state.sort;
  }

  function refresh() {
    var view = currentView();
    describeTrack();
    state.stats = computeStats(view);
    state.order = computeOrder(view);
    if (state.selected === null || state.selected >= view.units || state.sort !== "unit") {
      state.selected = state.order[0];
    }
    redraw(true);
  }

  function redraw(keepStatus) {
    var view = currentView();
    if (!keepStatus || !state.order) {
      state.stats = null;
      state.order = computeOrder(view);
    }
    var scale = scaleOf(view);
    drawLegend(scale);
    drawLabels(view);
    drawWindow(view, scale);
    drawText(view, scale);
  }

  function drawLabels(view) {
    var labels = $("unit-labels");
    labels.innerHTML = "";
    state.order.forEach(function (unit, row) {
      var label = document.createElement("div");
      label.className = "unit-label" + (unit === state.selected ? " selected" : "");
      label.dataset.unit = String(unit);
      label.dataset.row = String(row);
      var name = document.createElement("span");
      name.textContent = "unit " + unit;
      label.appendChild(name);
      if (state.stats) {
        var s = state.stats[unit], stats = document.createElement("span");
        stats.className = "stats";
        stats.textContent = "  AUROC " + fmt(s.auroc) + "  r " + fmt(s.pearson);
        label.appendChild(stats);
        label.dataset.auroc = String(s.auroc);
        label.dataset.pearson = String(s.pearson);
      }
      label.addEventListener("click", function () { state.selected = unit; redraw(true); });
      labels.appendChild(label);
    });
    $("unit-count").textContent = view.units + " units";
  }

  function drawWindow(view, scale) {
    var start = state.windowStart, end = windowEnd(start);
    var header = $("token-header");
    header.innerHTML = "";
    var offsets = [0];
    for (var t = start; t < end; t++) {
      var span = document.createElement("span");
      span.textContent = tokens[t] === " " ? "\u00b7" : tokens[t]; // a visible space
      span.style.width = widths[t] + "px";
      span.title = "token " + t + (data.known && !data.known[t] ? " (not in the vocabulary)" : "");
      if (state.track && state.track[t]) span.classList.add("in-pattern");
      if (data.known && !data.known[t]) span.classList.add("unknown");
      header.appendChild(span);
      offsets.push(offsets[offsets.length - 1] + widths[t]);
    }
    var canvas = $("heatmap"), ratio = window.devicePixelRatio || 1;
    var width = offsets[offsets.length - 1], height = view.units * ROW;
    canvas.width = Math.max(1, Math.round(width * ratio));
    canvas.height = Math.max(1, Math.round(height * ratio));
    canvas.style.width = width + "px";
    canvas.style.height = height + "px";
    var ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    state.order.forEach(function (unit, row) {
      for (var t = start; t < end; t++) {
        ctx.fillStyle = colour(view.values[t * view.units + unit], scale);
        ctx.fillRect(offsets[t - start], row * ROW, widths[t], ROW);
      }
      if (unit === state.selected) {
        ctx.strokeStyle = "#222"; ctx.lineWidth = 1;
        ctx.strokeRect(0.5, row * ROW + 0.5, width - 1, ROW - 1);
      }
    });
    canvas._offsets = offsets;
    canvas._start = start;
    $("window-info").textContent = "tokens " + start + "–" + (end - 1) + " of " + T;
    $("prev-window").disabled = start === 0;
    $("next-window").disabled = end >= T;
    $("window-nav").style.display = start === 0 && end >= T ? "none" : "flex";
  }

  function drawText(view, scale) {
    var box = $("text-view"), unit = state.selected;
    box.innerHTML = "";
    var cursor = 0;
    for (var t = 0; t < T; t++) {
      var span = data.spans[t];
      if (span[0] > cursor) box.appendChild(document.createTextNode(data.text.slice(cursor, span[0])));
      var piece = document.createElement("span");
      piece.className = "tok";
      piece.textContent = span[1] > span[0] ? data.text.slice(span[0], span[1]) : tokens[t];
      var value = view.values[t * view.units + unit];
      piece.style.background = colour(value, scale, 0.45);
      piece.title = "token " + t + ": " + view.kind + " = " + value.toFixed(4);
      if (state.track && state.track[t]) piece.classList.add("in-pattern");
      if (data.known && !data.known[t]) piece.classList.add("unknown");
      box.appendChild(piece);
      cursor = Math.max(cursor, span[1]);
    }
    if (cursor < data.text.length) box.appendChild(document.createTextNode(data.text.slice(cursor)));
    $("text-caption").textContent = "The text coloured by unit " + unit + " (" + view.label +
      ", " + data.directions[state.direction].name + "); click a unit's label to change it.";
  }

  // ---- hover -----------------------------------------------------------------------------
  function onHover(event) {
    var canvas = $("heatmap"), box = canvas.getBoundingClientRect(), tip = $("tooltip");
    var x = event.clientX - box.left, y = event.clientY - box.top, offsets = canvas._offsets;
    var row = Math.floor(y / ROW);
    var lo = 0, hi = offsets.length - 1;
    while (hi - lo > 1) { var mid = (lo + hi) >> 1; if (offsets[mid] <= x) lo = mid; else hi = mid; }
    var view = currentView(), t = canvas._start + lo, unit = state.order[row];
    if (unit === undefined || t >= T || x < 0) { tip.style.display = "none"; return; }
    var value = view.values[t * view.units + unit];
    tip.textContent = "unit " + unit + "  token " + t + " " + JSON.stringify(tokens[t]) + "\n" +
      view.kind + " = " + value.toFixed(4) +
      (state.track ? "   track = " + state.track[t] : "");
    tip.style.display = "block";
    tip.style.left = (event.clientX + 14) + "px";
    tip.style.top = (event.clientY + 14) + "px";
    tip.dataset.unit = String(unit);
    tip.dataset.token = String(t);
    tip.dataset.value = String(value);
    var spans = $("token-header").children;
    for (var i = 0; i < spans.length; i++) spans[i].classList.toggle("hover", i === lo);
  }

  // ---- wiring ----------------------------------------------------------------------------
  function init() {
    $("title").textContent = data.title;
    $("source").textContent = data.source;
    if (data.notes.length) {
      $("notes").textContent = data.notes.join("\n");
      $("notes").style.display = "block";
    }
    if (data.pattern) $("pattern").value = data.pattern;
    $("ignore-case").checked = !!data.ignore_case;
    if (data.track_source === "track") $("track-input").value = data.track.join(" ");
    fillSelectors();
    $("direction").addEventListener("change", function () {
      state.direction = Number(this.value); state.windowStart = 0; fillSelectors(); refresh();
    });
    $("kind").addEventListener("change", function () { state.kind = Number(this.value); refresh(); });
    $("sort").addEventListener("change", function () { state.sort = this.value; refresh(); });
    $("pattern").addEventListener("input", onPatternInput);
    $("ignore-case").addEventListener("change", onPatternInput);
    $("track-input").addEventListener("input", onTrackInput);
    $("prev-window").addEventListener("click", function () {
      var start = 0;
      while (windowEnd(start) < state.windowStart) start = windowEnd(start);
      state.windowStart = start; redraw(true);
    });
    $("next-window").addEventListener("click", function () {
      state.windowStart = windowEnd(state.windowStart); redraw(true);
    });
    $("heatmap").addEventListener("mousemove", onHover);
    $("heatmap").addEventListener("mouseleave", function () { $("tooltip").style.display = "none"; });
    refresh();
    document.body.dataset.ready = "true";
  }
  init();
})();
