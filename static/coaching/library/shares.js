// Sharing a lesson's recap (its student and coach): make a link that opens the recap
// read-only without an account for 1 to 30 days, copy it (shown this once: the server keeps
// only a digest of its secret), see the lesson's links and revoke one.
// POST/GET /api/sessions/{id}/shares/, DELETE …/shares/{share_id}/.
import { apiFetch, el, listResults } from "../realtime.js";
import { formatDateTime, tf } from "../i18n.js";

const DAYS = [1, 7, 14, 30];
const DEFAULT_DAYS = 7;

const STATE = () => ({
  active: gettext("Active"), expired: gettext("Expired"), revoked: gettext("Revoked"),
});

export class SharePanel {
  constructor(lesson, titleId) {
    this.lesson = lesson;
    this.api = `/api/sessions/${encodeURIComponent(lesson.session_id)}/shares/`;
    const panelId = `share-${lesson.session_id}`;
    this.toggle = el("button", {
      type: "button", className: "btn btn-small share-toggle", text: gettext("Share"),
      attrs: { "aria-expanded": "false", "aria-controls": panelId, "aria-describedby": titleId },
      on: { click: () => this.setOpen(this.panel.hidden) },
    });
    this.days = el("select", { className: "share-days" },
      DAYS.map((n) => el("option", {
        value: String(n), selected: n === DEFAULT_DAYS,
        text: tf(ngettext("%(count)s day", "%(count)s days", n), { count: n }),
      })));
    this.label = el("input", {
      type: "text", className: "share-label", maxLength: 100,
      placeholder: gettext("e.g. For my friend"),
    });
    this.error = el("p", { className: "form-error", hidden: true, attrs: { role: "alert" } });
    this.created = el("div", { className: "share-created", hidden: true });
    this.links = el("ul", { className: "share-list" });
    const form = el("form", { className: "share-form" },
      el("label", { className: "field" }, el("span", { text: gettext("Link works for") }), this.days),
      el("label", { className: "field" }, el("span", { text: gettext("Name (optional)") }), this.label),
      el("button", { type: "submit", className: "btn btn-small btn-primary", text: gettext("Create link") }));
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.create();
    });
    this.panel = el("div", {
      className: "share-panel", id: panelId, hidden: true,
      attrs: { role: "region", "aria-label": gettext("Share the recap") },
    },
    el("p", { className: "muted", text: gettext("Anyone with the link can read this lesson's recap, without an account, until it expires or you revoke it. It shows display names only.") }),
    form, this.error, this.created, this.links);
  }

  setOpen(open) {
    this.panel.hidden = !open;
    this.toggle.setAttribute("aria-expanded", String(open));
    if (open) this.refresh();
  }

  showError(err) {
    this.error.textContent = err ? err.message : "";
    this.error.hidden = !err;
  }

  async refresh() {
    try {
      const shares = listResults(await apiFetch("GET", `${this.api}?page_size=100`));
      this.links.replaceChildren(...shares.map((share) => this.item(share)));
    } catch (err) {
      this.showError(err);
    }
  }

  async create() {
    this.showError(null);
    try {
      const share = await apiFetch("POST", this.api, {
        expires_in_days: Number(this.days.value), label: this.label.value.trim(),
      });
      this.label.value = "";
      this.showCreated(share);
      await this.refresh();
    } catch (err) {
      this.showError(err);
    }
  }

  showCreated(share) {
    const url = el("input", {
      type: "text", className: "share-url", value: share.url, readOnly: true,
      attrs: { "aria-label": gettext("Share link") },
      on: { focus: (event) => event.target.select() },
    });
    const done = el("span", { className: "muted share-copied", attrs: { role: "status" } });
    const copy = el("button", {
      type: "button", className: "btn btn-small", text: gettext("Copy"),
      on: {
        click: async () => {
          try {
            await navigator.clipboard.writeText(share.url);
            done.textContent = gettext("Copied.");
          } catch (err) {
            url.select();
            done.textContent = gettext("Select the link and copy it.");
          }
        },
      },
    });
    this.created.replaceChildren(
      el("p", { text: tf(gettext("New link, until %(time)s. Copy it now: it is shown only once."), { time: formatDateTime(share.expires_at) }) }),
      el("div", { className: "share-url-row" }, url, copy), done);
    this.created.hidden = false;
    url.focus();
  }

  item(share) {
    const state = STATE()[share.state] || share.state;
    const when = share.state === "revoked"
      ? tf(gettext("Revoked %(time)s"), { time: formatDateTime(share.revoked_at) })
      : tf(share.state === "expired" ? gettext("Expired %(time)s") : gettext("Until %(time)s"), {
        time: formatDateTime(share.expires_at),
      });
    const name = share.label || tf(gettext("Link by %(name)s"), { name: share.created_by.name });
    const revoke = share.state === "active" ? el("button", {
      type: "button", className: "btn btn-small btn-danger", text: gettext("Revoke"),
      attrs: { "aria-label": tf(gettext("Revoke %(name)s"), { name }) },
      on: { click: () => this.revoke(share) },
    }) : null;
    return el("li", { className: `share-item share-${share.state}`, dataset: { shareId: share.share_id, state: share.state } },
      el("span", { className: "share-name", text: name }),
      el("span", { className: "badge", text: state }),
      el("span", { className: "muted", text: when }),
      revoke);
  }

  async revoke(share) {
    this.showError(null);
    try {
      await apiFetch("DELETE", `${this.api}${encodeURIComponent(share.share_id)}/`);
      await this.refresh();
    } catch (err) {
      this.showError(err);
    }
  }
}
