// What the accept and reset pages share: finding elements, the status line, one view at a
// time, field errors, the token in the link, the new-password rules, and posting GraphQL
// to the endpoint the page names. Each page loads its script as an ES module importing this
// one; plain DOM, no build step.

const MIN_PASSWORD_LENGTH = 12;

export const $ = (id) => document.getElementById(id);
const endpoint = $("app").dataset.endpoint || "/graphql";

// --- talking to the API -----------------------------------------------------------------

export class RequestFailed extends Error {
  constructor(kind) {
    super(kind);
    this.kind = kind; // "network" | "server" | "rateLimited"
  }
}

// The response body; a request that fails as a whole throws RequestFailed.
export async function post(query, variables, { token = null, credentials = "same-origin" } = {}) {
  const headers = {
    "Content-Type": "application/json",
    Accept: "application/graphql-response+json, application/json;q=0.9",
  };
  if (token) headers.Authorization = `Bearer ${token}`;
  let response;
  try {
    response = await fetch(endpoint, {
      method: "POST",
      headers,
      body: JSON.stringify({ query, variables }),
      credentials,
      cache: "no-store",
    });
  } catch {
    throw new RequestFailed("network");
  }
  if (response.status === 429) throw new RequestFailed("rateLimited");
  try {
    return await response.json();
  } catch {
    throw new RequestFailed("server");
  }
}

// Top-level errors mean the request itself failed: never show their text to the user.
export function failureOf(errors) {
  const codes = (errors || []).map((error) => error?.extensions?.code);
  return new RequestFailed(codes.includes("RATE_LIMITED") ? "rateLimited" : "server");
}

// --- the page ---------------------------------------------------------------------------

export function showStatus(text, tone = "info") {
  const status = $("status");
  status.textContent = text;
  status.className = `status status-${tone}`;
}

// The page's views are the sections of #app: shows one, hides the others.
export function showView(id) {
  for (const view of $("app").querySelectorAll(":scope > section")) {
    view.hidden = view.id !== id;
  }
  $(id).querySelector("h2").focus();
}

export function setFieldError(input, message) {
  const error = $(`${input.id}-error`);
  error.textContent = message;
  error.hidden = false;
  input.setAttribute("aria-invalid", "true");
  input.focus();
}

export function clearFieldErrors(inputs) {
  for (const input of inputs) {
    input.removeAttribute("aria-invalid");
    const error = $(`${input.id}-error`);
    error.textContent = "";
    error.hidden = true;
  }
}

// The token of a link like /reset/<token>: the path's last segment.
export function tokenInPath() {
  const last = window.location.pathname.split("/").pop() || "";
  try {
    return decodeURIComponent(last).trim();
  } catch {
    return "";
  }
}

// The obvious mistakes in a new password, caught before a round trip (the server checks
// again): [field, message], or null.
export function newPasswordProblem(password, confirmation, email = null) {
  if ([...password].length < MIN_PASSWORD_LENGTH) {
    return ["password", `Use at least ${MIN_PASSWORD_LENGTH} characters.`];
  }
  if (email && password.trim().toLowerCase() === String(email).toLowerCase()) {
    return ["password", "Do not use your email address as your password."];
  }
  if (password !== confirmation) {
    return ["confirm", "The two passwords do not match."];
  }
  return null;
}
