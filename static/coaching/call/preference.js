// "Always connect voice in my lessons": kept in this browser (localStorage, per user),
// because the server keeps no such setting. When it is on, this page rings the other
// participant as soon as both are in the lesson and answers their ring at once, so two
// people who both turned it on are talking without a tap.
export class AutoConnect {
  constructor(userId) {
    this.key = `inswing:call:auto-connect:${userId}`;
  }

  get on() {
    try {
      return window.localStorage.getItem(this.key) === "1";
    } catch (err) {
      return false; // storage blocked (private mode): the default
    }
  }

  set on(value) {
    try {
      if (value) window.localStorage.setItem(this.key, "1");
      else window.localStorage.removeItem(this.key);
    } catch (err) {
      // storage blocked: the choice lasts as long as the page
    }
  }
}
