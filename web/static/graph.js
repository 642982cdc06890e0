/* Featreg: pan and zoom for the graphs drawn inline as SVG (every .graph-box holding an <svg>).
 *
 * No library and no network: the drawing's viewBox is moved and scaled. Drag (mouse, pen or
 * one finger) pans, the wheel or a two-finger pinch zooms around the pointer, the buttons zoom,
 * fit the whole graph or show it at the legible size, and the box takes the keys + - 0 1 and
 * the arrows once focused. A drag never follows the link under the pointer; a click does.
 *
 * At first the graph fits the box, unless its labels would then be smaller than 11 px on a
 * wide screen: it is then shown at the size where they are 11 px, centred on the focused node
 * (or the middle), and can be panned. On a phone the whole graph is fitted.
 */
(function () {
  "use strict";

  var LABEL_UNITS = 11;     // node labels are 11 units (pt) high in Graphviz's drawing
  var MIN_LABEL_PX = 11;    // the smallest label shown at the first view on a wide screen
  var NATURAL = 4 / 3;      // px per unit at 100 % (1 pt = 4/3 px)
  var NARROW = 700;         // screens narrower than this (px) see the whole graph first
  var DRAG_SLOP = 4;        // px a pointer moves before a press becomes a drag

  function clamp(value, low, high) { return Math.max(low, Math.min(high, value)); }

  function button(label, title, action) {
    var b = document.createElement("button");
    b.type = "button";
    b.textContent = label;
    b.title = title;
    b.setAttribute("aria-label", title);
    b.addEventListener("click", function (event) { event.preventDefault(); action(); });
    return b;
  }

  var XLINK = "http://www.w3.org/1999/xlink";
  var KINDS = { features: "feature", sources: "source", consumers: "consumer" };

  /* The object a node links to: {kind, name, href}, from its page's address. */
  function objectOf(link) {
    var href = link.getAttributeNS(XLINK, "href") || link.getAttribute("href");
    if (!href) { return null; }
    var path = new URL(href, window.location.href).pathname;
    var found = /\/(features|sources|consumers)\/(.+)$/.exec(path);
    if (!found) { return null; }
    return { kind: KINDS[found[1]], name: decodeURIComponent(found[2]), href: href };
  }

  function closeMenu(box) {
    var open = box.querySelector(".pz-menu");
    if (open) { open.parentNode.removeChild(open); }
  }

  /* A small menu at the clicked node: focus the explorer on it, or open its page. */
  function showMenu(box, explore, target, at) {
    closeMenu(box);
    var menu = document.createElement("div");
    menu.className = "pz-menu";
    menu.setAttribute("role", "menu");
    var title = document.createElement("b");
    title.textContent = target.kind + " " + target.name;
    var focus = document.createElement("a");
    focus.href = explore + "?focus=" + encodeURIComponent(target.kind + ":" + target.name);
    focus.textContent = "Focus the graph here";
    focus.setAttribute("role", "menuitem");
    var page = document.createElement("a");
    page.href = target.href;
    page.textContent = "Open its page";
    page.setAttribute("role", "menuitem");
    menu.appendChild(title);
    menu.appendChild(focus);
    menu.appendChild(page);
    box.appendChild(menu);
    var left = Math.min(at.x + 8, box.clientWidth - menu.offsetWidth - 4);
    var top = Math.min(at.y + 8, box.clientHeight - menu.offsetHeight - 4);
    menu.style.left = Math.max(left, 4) + "px";
    menu.style.top = Math.max(top, 4) + "px";
    focus.focus();
  }

  function enhance(box) {
    var svg = box.querySelector("svg");
    if (!svg || box.getAttribute("data-pz") === "on" || !svg.viewBox || !svg.viewBox.baseVal) {
      return;
    }
    var base = svg.viewBox.baseVal;
    var full = { x: base.x, y: base.y, w: base.width, h: base.height };
    if (!(full.w > 0 && full.h > 0)) { return; }
    box.setAttribute("data-pz", "on");
    box.classList.add("pz");
    box.tabIndex = 0;
    box.setAttribute("role", "application");
    box.setAttribute("aria-label", "graph: drag to pan, + and - to zoom, 0 to fit");
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");

    var view = { x: full.x, y: full.y, s: 1 };   // top-left corner (units), px per unit
    var size = { w: 1, h: 1 };

    function fitScale() { return Math.min(size.w / full.w, size.h / full.h); }
    function legibleScale() { return MIN_LABEL_PX / LABEL_UNITS; }
    function minScale() { return Math.min(fitScale(), legibleScale()) / 2; }

    function render() {
      svg.setAttribute("viewBox", [view.x, view.y, size.w / view.s, size.h / view.s].join(" "));
      box.setAttribute("data-zoom", view.s.toFixed(3));
    }

    function centreOn(cx, cy, scale) {
      view.s = clamp(scale, minScale(), 8);
      view.x = cx - size.w / view.s / 2;
      view.y = cy - size.h / view.s / 2;
      render();
    }

    function fit() { centreOn(full.x + full.w / 2, full.y + full.h / 2, fitScale()); }

    function zoomAt(factor, px, py) {
      var ux = view.x + px / view.s;
      var uy = view.y + py / view.s;
      view.s = clamp(view.s * factor, minScale(), 8);
      view.x = ux - px / view.s;
      view.y = uy - py / view.s;
      render();
    }

    function zoomCentre(factor) { zoomAt(factor, size.w / 2, size.h / 2); }

    function pan(dx, dy) {
      view.x -= dx / view.s;
      view.y -= dy / view.s;
      render();
    }

    function measure() {
      var width = Math.max(box.clientWidth, 100);
      var tallest = Math.max(240, Math.round(window.innerHeight * 0.75));
      var narrow = window.innerWidth < NARROW;
      var fitting = Math.min(width / full.w, tallest / full.h);
      var first = narrow ? Math.min(fitting, NATURAL)
        : Math.min(Math.max(fitting, legibleScale()), NATURAL);
      box.style.height = Math.round(clamp(full.h * first, 160, tallest)) + "px";
      size.w = width;
      size.h = box.clientHeight || Math.round(clamp(full.h * first, 160, tallest));
      return first;
    }

    function start() {
      var first = measure();
      var focus = svg.querySelector("g.node.focus");
      var cx = full.x + full.w / 2;
      var cy = full.y + full.h / 2;
      var matrix = svg.getScreenCTM();
      if (focus && matrix && first > fitScale() * 1.01) {
        var r = focus.getBoundingClientRect();
        var point = svg.createSVGPoint();
        point.x = r.left + r.width / 2;
        point.y = r.top + r.height / 2;
        point = point.matrixTransform(matrix.inverse());
        cx = point.x;
        cy = point.y;
      }
      centreOn(cx, cy, first);
    }

    function legible() { centreOn(view.x + size.w / view.s / 2, view.y + size.h / view.s / 2,
                                  legibleScale()); }

    var bar = document.createElement("div");
    bar.className = "pz-bar";
    bar.appendChild(button("+", "zoom in", function () { zoomCentre(1.4); }));
    bar.appendChild(button("\u2212", "zoom out", function () { zoomCentre(1 / 1.4); }));
    bar.appendChild(button("fit", "fit the whole graph", fit));
    bar.appendChild(button("1:1", "labels at legible size", legible));
    box.insertBefore(bar, box.firstChild);

    // ----- pointers: drag to pan, two fingers to pinch -----
    var pointers = {};
    var dragged = false;
    var pressed = null;
    var pinch = null;

    function local(event) {
      var r = box.getBoundingClientRect();
      return { x: event.clientX - r.left, y: event.clientY - r.top };
    }

    function count() { return Object.keys(pointers).length; }

    function pinchState() {
      var ids = Object.keys(pointers);
      var a = pointers[ids[0]];
      var b = pointers[ids[1]];
      return { d: Math.hypot(a.x - b.x, a.y - b.y) || 1, x: (a.x + b.x) / 2, y: (a.y + b.y) / 2 };
    }

    box.addEventListener("pointerdown", function (event) {
      if (event.target.closest && event.target.closest(".pz-bar, .pz-menu")) { return; }
      if (event.pointerType === "mouse" && event.button !== 0) { return; }
      pointers[event.pointerId] = local(event);
      if (count() === 1) {
        pressed = local(event);
        dragged = false;
      } else if (count() === 2) {
        pinch = pinchState();
        dragged = true;
      }
    });

    box.addEventListener("pointermove", function (event) {
      var held = pointers[event.pointerId];
      if (!held) { return; }
      var here = local(event);
      if (count() >= 2 && pinch) {
        pointers[event.pointerId] = here;
        var now = pinchState();
        zoomAt(now.d / pinch.d, now.x, now.y);
        pan(now.x - pinch.x, now.y - pinch.y);
        pinch = now;
        return;
      }
      if (!dragged && pressed && Math.hypot(here.x - pressed.x, here.y - pressed.y) < DRAG_SLOP) {
        return;
      }
      if (!dragged) {
        dragged = true;
        box.classList.add("dragging");
        try { box.setPointerCapture(event.pointerId); } catch (ignored) { /* released */ }
      }
      pan(here.x - held.x, here.y - held.y);
      pointers[event.pointerId] = here;
    });

    function release(event) {
      delete pointers[event.pointerId];
      if (count() < 2) { pinch = null; }
      if (count() === 0) { box.classList.remove("dragging"); pressed = null; }
    }
    box.addEventListener("pointerup", release);
    box.addEventListener("pointercancel", release);

    box.addEventListener("click", function (event) {
      if (dragged) {
        event.preventDefault();
        event.stopPropagation();
        dragged = false;
        return;
      }
      var explore = box.getAttribute("data-explore");
      var link = event.target.closest ? event.target.closest("svg a") : null;
      if (explore && link) {
        var target = objectOf(link);
        if (target) {
          event.preventDefault();
          showMenu(box, explore, target, local(event));
        }
      } else if (!event.target.closest || !event.target.closest(".pz-menu")) {
        closeMenu(box);
      }
    }, true);

    box.addEventListener("wheel", function (event) {
      event.preventDefault();
      var at = local(event);
      var step = event.deltaMode === 1 ? event.deltaY * 16 : event.deltaY;
      zoomAt(Math.exp(-step * 0.0015), at.x, at.y);
    }, { passive: false });

    box.addEventListener("keydown", function (event) {
      var keys = {
        "+": function () { zoomCentre(1.4); }, "=": function () { zoomCentre(1.4); },
        "-": function () { zoomCentre(1 / 1.4); }, "_": function () { zoomCentre(1 / 1.4); },
        "0": fit, "1": legible,
        "ArrowLeft": function () { pan(80, 0); }, "ArrowRight": function () { pan(-80, 0); },
        "ArrowUp": function () { pan(0, 80); }, "ArrowDown": function () { pan(0, -80); }
      };
      if (event.key === "Escape") { closeMenu(box); return; }
      if (event.target !== box) { return; }
      var action = keys[event.key];
      if (action && !event.altKey && !event.ctrlKey && !event.metaKey) {
        event.preventDefault();
        action();
      }
    });

    var resizing = null;
    window.addEventListener("resize", function () {
      clearTimeout(resizing);
      resizing = setTimeout(function () {
        var cx = view.x + size.w / view.s / 2;
        var cy = view.y + size.h / view.s / 2;
        var scale = view.s;
        measure();
        centreOn(cx, cy, scale);
      }, 120);
    });

    start();
  }

  function init() {
    var boxes = document.querySelectorAll(".graph-box");
    for (var i = 0; i < boxes.length; i += 1) { enhance(boxes[i]); }
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
}());
