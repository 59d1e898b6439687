// The library (/lessons/): past lessons with filters (lessons.js), and a student's
// progress across them (progress.js): a student's own at once, a coach's or an admin's
// when they pick a student. Filters live in the address (?coach=&student=&club=&date_from=
// &date_to=), so a reload or a shared address keeps them.
import { LessonList } from "./lessons.js";
import { ProgressChart } from "./progress.js";

const $ = (id) => document.getElementById(id);
const data = JSON.parse($("library-data").textContent);
const form = $("lesson-filters");
const FIELDS = ["coach", "student", "club", "date_from", "date_to"];
const field = (name) => form.elements.namedItem(name);

const progress = new ProgressChart($("progress"));
const lessons = new LessonList({
  list: $("lesson-list"),
  status: $("lessons-status"),
  error: $("lessons-error"),
  count: $("lessons-count"),
  more: $("lessons-more"),
  role: data.role,
});

function query() {
  const params = new URLSearchParams();
  for (const name of FIELDS) {
    const input = field(name);
    if (input && input.value) params.set(name, input.value);
  }
  return params;
}

// The student whose progress shows: the page's own student, else the one picked.
function progressStudent() {
  if (data.student) return data.student;
  const picked = field("student");
  if (!picked || !picked.value) return null;
  const option = picked.selectedOptions[0];
  return { id: picked.value, name: option ? option.textContent : "" };
}

function apply() {
  const params = query();
  const search = params.toString();
  history.replaceState(null, "", search ? `?${search}` : location.pathname);
  lessons.load(params);
  progress.show(progressStudent());
}

function fill(select, items, label) {
  if (!select) return;
  const first = select.options[0];
  select.replaceChildren(first, ...items.map((item) => {
    const option = document.createElement("option");
    option.value = item.value;
    option.textContent = label(item);
    return option;
  }));
}

async function start() {
  const filters = await lessons.filters();
  fill(field("coach"), filters.coaches.map((p) => ({ value: p.id, name: p.name })), (p) => p.name);
  fill(field("student"), filters.students.map((p) => ({ value: p.id, name: p.name })), (p) => p.name);
  fill(field("club"), filters.clubs.map((club) => ({ value: club })), (c) => lessons.clubName(c.value));
  // The address's filters, where the lists have them.
  const given = new URLSearchParams(location.search);
  for (const name of FIELDS) {
    const input = field(name);
    if (input && given.has(name)) input.value = given.get(name);
  }
  apply();
}

form.addEventListener("change", apply);
form.addEventListener("submit", (event) => event.preventDefault());
form.addEventListener("reset", () => setTimeout(apply));
start();
