// Telling a coach that a student started waiting: the tab title shows the count
// ("(2) …"), and an opt-in beep (WebAudio; off by default, remembered in localStorage).
const SOUND_KEY = "inswing:dashboard:sound";

export class WaitingAlerts {
  constructor({ toggle }) {
    this.toggle = toggle;
    this.baseTitle = document.title;
    this.audio = null;
    toggle.checked = localStorage.getItem(SOUND_KEY) === "on";
    toggle.addEventListener("change", () => {
      localStorage.setItem(SOUND_KEY, toggle.checked ? "on" : "off");
      if (toggle.checked) this.beep(); // a sample, and it unlocks audio after a user gesture
    });
  }

  count(waiting) {
    document.title = waiting > 0 ? `(${waiting}) ${this.baseTitle}` : this.baseTitle;
  }

  studentStartedWaiting() {
    if (this.toggle.checked) this.beep();
  }

  beep() {
    try {
      this.audio = this.audio || new (window.AudioContext || window.webkitAudioContext)();
      const ctx = this.audio;
      const osc = ctx.createOscillator();
      const gain = ctx.createGain();
      osc.frequency.value = 880;
      gain.gain.setValueAtTime(0.0001, ctx.currentTime);
      gain.gain.exponentialRampToValueAtTime(0.2, ctx.currentTime + 0.02);
      gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.35);
      osc.connect(gain).connect(ctx.destination);
      osc.start();
      osc.stop(ctx.currentTime + 0.4);
    } catch (err) {
      // no audio available: the title still counts
    }
  }
}
