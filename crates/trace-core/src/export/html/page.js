"use strict";
// Draws the traces in #trace-data. Span data is hostile input: it only ever reaches
// the DOM through textContent, never as markup.
(function () {
  const data = JSON.parse(document.getElementById("trace-data").textContent);
  const traces = data.traces;
  const byId = new Map(traces.map((trace) => [trace.traceId, trace]));

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function duration(ns) {
    if (ns < 1e3) return ns + " ns";
    if (ns < 1e6) return Math.floor(ns / 1e3) + " µs";
    if (ns < 1e9) return (ns / 1e6).toFixed(2) + " ms";
    return (ns / 1e9).toFixed(3) + " s";
  }

  function plural(count, noun) {
    return count + " " + noun + (count === 1 ? "" : "s");
  }

  function selection() {
    const params = new URLSearchParams(window.location.hash.slice(1));
    return { trace: params.get("trace"), span: params.get("span") };
  }

  function go(traceId, spanId) {
    const hash = "trace=" + traceId + (spanId ? "&span=" + spanId : "");
    if (window.location.hash.slice(1) !== hash) window.location.hash = hash;
    else draw();
  }

  function drawSummary() {
    let text = plural(traces.length, "trace");
    if (data.evicted > 0) text += " (" + data.evicted + " older not kept)";
    text += " · rewritten as traces finish: reload for new ones";
    document.getElementById("summary").textContent = text;
  }

  function drawList(selected) {
    const section = document.getElementById("traces");
    section.replaceChildren();
    if (traces.length === 0) {
      section.append(el("p", "empty", "No traces yet."));
      return;
    }
    const table = el("table", "list");
    const head = el("tr");
    for (const title of ["Trace", "Service", "Duration", "Spans", "Errors", "Started", "Trace id"]) {
      head.append(el("th", "", title));
    }
    table.append(head);
    for (const trace of traces) {
      const row = el("tr", "trace" + (trace === selected ? " selected" : ""));
      row.dataset.traceId = trace.traceId;
      row.append(el("td", "", (trace.root || "(no root)") + (trace.entry ? " → " + trace.entry : "")));
      row.append(el("td", "", trace.service));
      row.append(el("td", "number", duration(trace.durationNs)));
      row.append(el("td", "number", trace.spanCount));
      row.append(el("td", "number" + (trace.errorCount ? " errors" : ""), trace.errorCount));
      row.append(el("td", "", new Date(trace.startMs).toLocaleString()));
      row.append(el("td", "", trace.traceId));
      row.addEventListener("click", () => go(trace.traceId));
      table.append(row);
    }
    section.append(table);
  }

  function axisRow(trace) {
    const row = el("div", "row axis-row");
    row.append(el("div", "label", "0 = " + new Date(trace.startMs).toLocaleTimeString()));
    const axis = el("div", "axis");
    for (const fraction of [0, 0.25, 0.5, 0.75, 1]) {
      const tick = el("span", "tick", duration(Math.round(trace.durationNs * fraction)));
      tick.style.left = fraction * 100 + "%";
      axis.append(tick);
    }
    row.append(axis);
    return row;
  }

  function drawWaterfall(trace, selectedSpan) {
    const section = document.getElementById("waterfall");
    section.replaceChildren();
    if (!trace) {
      section.append(el("p", "empty", traces.length ? "Choose a trace above." : "No traces yet."));
      return [];
    }
    const head = el("div", "trace-head");
    head.append(el("span", "root", trace.root + (trace.entry ? " → " + trace.entry : "")));
    head.append(el("span", "", trace.service));
    head.append(el("span", "", plural(trace.spanCount, "span") + " · " + duration(trace.durationNs)));
    if (trace.errorCount) head.append(el("span", "errors", "✗ " + plural(trace.errorCount, "error")));
    head.append(el("span", "id", trace.traceId));
    section.append(head, axisRow(trace));
    const total = Math.max(trace.durationNs, 1);
    const collapsed = new Set();
    const rows = trace.rows.map((data, index) => {
      const span = data.span;
      const row = el("div", "row" + (span ? "" : " missing") + (span && span.error ? " error" : ""));
      row.dataset.row = index;
      row.dataset.depth = data.depth;
      const label = el("div", "label");
      label.style.paddingLeft = 6 + data.depth * 14 + "px";
      const toggle = el("button", "toggle" + (data.hasChildren ? "" : " leaf"), "▾");
      toggle.type = "button";
      toggle.title = "Collapse or expand the spans below";
      toggle.addEventListener("click", (event) => {
        event.stopPropagation();
        if (collapsed.has(index)) collapsed.delete(index);
        else collapsed.add(index);
        toggle.textContent = collapsed.has(index) ? "▸" : "▾";
        applyCollapse();
      });
      label.append(toggle);
      const track = el("div", "track");
      if (span) {
        row.dataset.spanId = span.spanId;
        if (span.error) label.append(el("span", "", "✗"));
        label.append(el("span", "name", span.name || "<unnamed>"));
        label.append(el("span", "kind", span.kind));
        if (data.placement === "linked") label.append(el("span", "note", "linked"));
        if (data.placement === "cycle") label.append(el("span", "note", "parent cycle"));
        const bar = el("div", "bar kind-" + span.kind.toLowerCase());
        const left = (span.offsetNs / total) * 100;
        const width = (span.durationNs / total) * 100;
        bar.style.left = left + "%";
        bar.style.width = width + "%";
        bar.title = span.name + " · " + duration(span.durationNs);
        const time = el("span", "duration", duration(span.durationNs));
        time.style.left = "calc(" + (left + width) + "% + 2px)";
        track.append(bar, time);
        row.addEventListener("click", () => go(trace.traceId, span.spanId));
        if (span.spanId === selectedSpan) row.classList.add("selected");
      } else {
        label.append(el("span", "name", "⋯ parent " + data.missing + ", not in this page"));
      }
      row.append(label, track);
      section.append(row);
      return row;
    });

    function applyCollapse() {
      trace.rows.forEach((data, index) => {
        let parent = data.parent;
        let hidden = false;
        while (parent !== null && parent !== undefined) {
          if (collapsed.has(parent)) {
            hidden = true;
            break;
          }
          parent = trace.rows[parent].parent;
        }
        rows[index].classList.toggle("hidden", hidden);
      });
    }
    return rows;
  }

  function table(pairs) {
    const node = el("table");
    for (const [key, value] of pairs) {
      const row = el("tr");
      row.append(el("td", "key", key));
      const cell = el("td", "value");
      if (value instanceof Node) cell.append(value);
      else cell.textContent = String(value);
      row.append(cell);
      node.append(row);
    }
    return node;
  }

  function drawDetails(trace, spanId) {
    const aside = document.getElementById("details");
    aside.replaceChildren();
    const row = trace && trace.rows.find((row) => row.span && row.span.spanId === spanId);
    if (!row) {
      aside.append(el("p", "empty", "Click a span to see its attributes, events and links."));
      return;
    }
    const span = row.span;
    aside.append(el("h2", "", span.name || "<unnamed>"));
    const status = el("span", span.status === "error" ? "status-error" : "", span.status);
    if (span.message) status.textContent += ": " + span.message;
    const facts = [
      ["kind", span.kind],
      ["status", status],
      ["duration", duration(span.durationNs)],
      ["starts at", "+" + duration(span.offsetNs)],
      ["service", span.service || ""],
      ["scope", span.scope],
      ["trace id", trace.traceId],
      ["span id", span.spanId],
      ["parent id", span.parentId ? span.parentId + (span.remoteParent ? " (remote)" : "") : "none (root)"],
    ];
    if (span.errorType) facts.splice(2, 0, ["error.type", span.errorType]);
    aside.append(table(facts));
    aside.append(el("h3", "", "Attributes (" + span.attributes.length + ")"));
    aside.append(table(span.attributes));
    if (span.droppedAttributes) aside.append(el("p", "note", span.droppedAttributes + " dropped"));
    if (span.events.length) {
      aside.append(el("h3", "", "Events (" + span.events.length + ")"));
      for (const event of span.events) {
        aside.append(el("p", "", "+" + duration(event.offsetNs) + " " + event.name));
        if (event.attributes.length) aside.append(table(event.attributes));
      }
    }
    if (span.links.length) {
      aside.append(el("h3", "", "Links (" + span.links.length + ")"));
      for (const link of span.links) {
        const target = byId.get(link.traceId);
        const text = link.traceId + " / " + link.spanId;
        const node = target ? el("a", "", text) : el("span", "value", text);
        if (target) node.addEventListener("click", () => go(link.traceId, link.spanId));
        const line = el("p");
        line.append(node);
        aside.append(line);
        if (link.attributes.length) aside.append(table(link.attributes));
      }
    }
  }

  // Records how wide each bar was drawn, so an automated check can read it back from
  // the rendered DOM.
  function recordDrawnWidths(rows) {
    for (const row of rows) {
      const bar = row.querySelector(".bar");
      if (bar) row.dataset.barWidth = bar.getBoundingClientRect().width.toFixed(1);
    }
  }

  function draw() {
    const where = selection();
    const trace = byId.get(where.trace) || traces[0];
    drawSummary();
    drawList(trace);
    const rows = drawWaterfall(trace, where.span);
    drawDetails(trace, where.span);
    recordDrawnWidths(rows);
  }

  window.addEventListener("hashchange", draw);
  draw();
})();
