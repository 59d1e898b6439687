// Phone layout: Chat / Analysis / Swing tabs (WAI-ARIA tabs, arrow keys), a dot on a tab
// with news, and a toast that jumps to the newest card. On wide screens every panel
// shows and the tabs are hidden (CSS).
import { el, reveal } from "../realtime.js";


export class Tabs {
  constructor({ tablist, toastRoot }) {
    this.tablist = tablist;
    this.toastRoot = toastRoot;
    this.tabs = [...tablist.querySelectorAll('[role="tab"]')];
    this.toastTimer = null;
    for (const tab of this.tabs) {
      tab.addEventListener("click", () => this.select(tab.dataset.panel, { focus: true }));
      tab.addEventListener("keydown", (event) => {
        const i = this.tabs.indexOf(tab);
        const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: this.tabs.length - 1 }[event.key];
        if (next === undefined) return;
        event.preventDefault();
        const target = this.tabs[(next + this.tabs.length) % this.tabs.length];
        this.select(target.dataset.panel, { focus: true });
      });
    }
    this.select(this.tabs[0].dataset.panel);
  }

  current() {
    const tab = this.tabs.find((x) => x.getAttribute("aria-selected") === "true");
    return tab ? tab.dataset.panel : null;
  }

  narrow() {
    return getComputedStyle(this.tablist).display !== "none";
  }

  select(panelId, { focus = false } = {}) {
    for (const tab of this.tabs) {
      const on = tab.dataset.panel === panelId;
      tab.setAttribute("aria-selected", String(on));
      tab.tabIndex = on ? 0 : -1;
      document.getElementById(tab.dataset.panel).classList.toggle("is-current", on);
      if (on) {
        tab.classList.remove("has-news");
        if (focus) tab.focus();
      }
    }
    if (this.onSelect) this.onSelect(panelId);
  }

  // Something new in a panel: a dot on its tab when it is not the one shown.
  news(panelId) {
    if (!this.narrow() || this.current() === panelId) return;
    const tab = this.tabs.find((x) => x.dataset.panel === panelId);
    if (tab) tab.classList.add("has-news");
  }

  // A toast with a button that opens `panelId` and focuses `target` (phone only).
  toast(text, panelId, target) {
    if (!this.narrow() || this.current() === panelId) return;
    const button = el("button", {
      type: "button", className: "btn btn-small btn-primary", text: gettext("View"),
      on: {
        click: () => {
          this.select(panelId);
          this.toastRoot.replaceChildren();
          if (target) reveal(target);
        },
      },
    });
    this.toastRoot.replaceChildren(el("div", { className: "toast" }, el("span", { text }), button));
    clearTimeout(this.toastTimer);
    this.toastTimer = setTimeout(() => this.toastRoot.replaceChildren(), 12000);
  }
}
