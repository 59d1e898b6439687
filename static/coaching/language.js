// The language switch: choosing a language applies it at once (the button stays for
// keyboard and no-script users). Django's set_language stores it in a cookie.
const form = document.getElementById("language-form");
const select = document.getElementById("language-select");
if (form && select) {
  document.getElementById("language-apply").classList.add("visually-hidden");
  select.addEventListener("change", () => form.submit());
}
