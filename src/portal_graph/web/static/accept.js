// Accept-invitation page: reads the token from the URL, shows the invitation, accepts it
// and then shows what the new session can see. Plain DOM, no build step; server data is
// only ever written with textContent.
//
// What it asks for follows the preview's passwordChoice: a new password, the account's current
// one, or (through a link an admin copied, which does not say whether the email has an
// account) either. Someone already signed in in this tab as the invited email accepts with
// their session instead of a password.
import {
  $,
  clearFieldErrors,
  failureOf,
  newPasswordProblem,
  post,
  RequestFailed,
  setFieldError,
  showStatus,
  showView,
  tokenInPath,
} from "./forms.js";

const TOKEN_KEY = "portal_graph_token";

const PREVIEW_QUERY = `query InvitationPreview($token: String!) {
  invitationPreview(token: $token) {
    organizationName email name kind role customerNames expiresAt expired passwordChoice
  }
}`;

const ACCEPT_MUTATION = `mutation AcceptInvitation($input: AcceptInvitationInput!) {
  acceptInvitation(input: $input) {
    token
    viewer { email name organization { name } }
    userErrors { code field message }
  }
}`;

const ME_QUERY = `query Me { me { email } }`;

const WELCOME_QUERY = `query Welcome {
  me { email name organization { name } }
  customers(first: 50) { edges { node { id name } } }
  jobs(first: 10, status: COMPLETED) {
    edges { node { id reference title completedAt customer { name } } }
  }
}`;

const INVALID = {
  title: "Invitation link not valid",
  text:
    "This invitation link is not valid. It may have been cancelled, already used, " +
    "or replaced by a newer link.",
  advice: "Ask the person who invited you to send a new invite.",
};
const EXPIRED_ADVICE = "Ask your contact to resend the invitation.";
const FAILURE_MESSAGES = {
  network: "We could not reach the server. Check your connection and try again.",
  server: "Something went wrong on our side. Please try again in a moment.",
  rateLimited: "Too many attempts. Try again in a minute.",
};
const INVALID_CREDENTIALS = "That password does not match your existing account.";
const ROLE_NAMES = { ADMIN: "Administrator", MANAGER: "Manager", USER: "Member" };

function failureMessage(error) {
  return FAILURE_MESSAGES[error?.kind] || FAILURE_MESSAGES.server;
}

// --- small view helpers -------------------------------------------------------------

function showProblem({ title, text, advice }) {
  $("problem-title").textContent = title;
  $("problem-text").textContent = text;
  $("problem-advice").textContent = advice;
  showStatus("");
  showView("problem-view");
}

function expiredProblem(preview) {
  const when = preview?.expiresAt ? ` on ${formatDate(preview.expiresAt, true)}` : "";
  const where = preview?.organizationName ? ` to ${preview.organizationName}` : "";
  return {
    title: "Invite expired",
    text: `Your invitation${where} expired${when}, so it can no longer be used.`,
    advice: EXPIRED_ADVICE,
  };
}

function formatDate(iso, withTime) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso ?? "");
  const style = withTime ? { dateStyle: "long", timeStyle: "short" } : { dateStyle: "medium" };
  return date.toLocaleString(undefined, style);
}

function setTime(time, iso, withTime) {
  time.dateTime = iso ?? "";
  time.textContent = iso ? formatDate(iso, withTime) : "—";
  return time;
}

function fillList(list, names) {
  list.replaceChildren(
    ...names.map((name) => {
      const item = document.createElement("li");
      item.textContent = name;
      return item;
    }),
  );
}

// --- the invitation form ------------------------------------------------------------

function readToken() {
  const fromQuery = new URLSearchParams(window.location.search).get("token");
  return fromQuery ? fromQuery.trim() : tokenInPath();
}

function showInvitation(preview, token, session) {
  $("organization-name").textContent = preview.organizationName;
  const staff = preview.kind === "STAFF";
  $("role-term").hidden = !staff;
  $("role-name").hidden = !staff;
  $("role-name").textContent = staff ? ROLE_NAMES[preview.role] || preview.role : "";
  $("customers-term").hidden = staff;
  $("customers-detail").hidden = staff;
  fillList($("customer-names"), preview.customerNames || []);
  setTime($("expires-at"), preview.expiresAt, true);
  $("email").value = preview.email;
  $("name").value = preview.name || "";

  if (session) useSession(preview.email);
  else if (preview.passwordChoice === "CURRENT_PASSWORD") useExistingAccount(preview.email);
  else if (preview.passwordChoice === "NEW_OR_CURRENT") useEitherPassword();

  $("accept-form").addEventListener("submit", (event) => {
    event.preventDefault();
    submitAcceptance(preview, token, session);
  });
  showStatus("");
  showView("invitation-view");
}

function showNote(text) {
  const note = $("account-note");
  note.textContent = text;
  note.hidden = false;
}

function hideConfirmation() {
  $("confirm-field").hidden = true;
  $("confirm").disabled = true;
}

// The person already has an account: they prove it, and their password does not change.
function useExistingAccount(email) {
  $("password-label").textContent = "Your current password";
  $("password").autocomplete = "current-password";
  $("password-hint").textContent = "The password you already use to sign in.";
  $("forgot").hidden = false;
  showNote(
    `You already have an account as ${email}. Sign in with your existing account: ` +
      "enter your current password to accept. Your password will not change.",
  );
  hideConfirmation();
}

// A copied link: the page is not told whether the email has an account.
function useEitherPassword() {
  $("password-label").textContent = "Password";
  $("password-hint").textContent =
    "New here: choose a password of at least 12 characters. Already have an account " +
    "with this email: enter its password (twice), which will not change.";
  $("forgot").hidden = false;
  showNote(
    "If this email already has an account, accept with its current password. " +
      "Otherwise choose a new one.",
  );
}

// Signed in, in this tab, as the invited email: the session is the consent.
function useSession(email) {
  $("password-field").hidden = true;
  $("password").disabled = true;
  hideConfirmation();
  showNote(`You are signed in as ${email}: accept to add this organization to your account.`);
}

// Catches the obvious mistakes before a round trip; the server checks again.
function passwordProblem(preview, password, confirmation, session) {
  if (session) return null;
  if (preview.passwordChoice === "CURRENT_PASSWORD") {
    return password ? null : ["password", "Enter your current password."];
  }
  return newPasswordProblem(password, confirmation, preview.email);
}

let submitting = false;

async function submitAcceptance(preview, token, session) {
  if (submitting) return;
  clearFieldErrors([$("password"), $("confirm")]);
  const password = session ? null : $("password").value;
  const problem = passwordProblem(preview, password, $("confirm").value, session);
  if (problem) {
    showStatus("");
    setFieldError($(problem[0]), problem[1]);
    return;
  }
  const button = $("submit");
  submitting = true;
  button.disabled = true;
  showStatus("Accepting your invitation…");
  try {
    const name = $("name").value.trim() || null;
    const body = await post(ACCEPT_MUTATION, { input: { token, password, name } },
                           { token: session });
    const result = body?.data?.acceptInvitation;
    if (!result) throw failureOf(body?.errors);
    if (result.userErrors?.length) {
      showUserError(result.userErrors[0], preview);
    } else if (result.token) {
      await welcome(result.token, result.viewer);
    } else {
      throw new RequestFailed("server");
    }
  } catch (error) {
    showStatus(failureMessage(error), "error");
  } finally {
    submitting = false;
    button.disabled = false;
  }
}

function showUserError(error, preview) {
  switch (error.code) {
    case "INVITATION_EXPIRED":
      return showProblem(expiredProblem(preview));
    case "INVITATION_INVALID":
      return showProblem(INVALID);
    case "WEAK_PASSWORD":
      showStatus("");
      return setFieldError($("password"), error.message || "Choose a stronger password.");
    case "INVALID_CREDENTIALS":
      showStatus("");
      return setFieldError($("password"), INVALID_CREDENTIALS);
    case "MAILBOX_NOT_PROVEN":
      return showStatus(error.message, "error");
    case "RATE_LIMITED":
      return showStatus(FAILURE_MESSAGES.rateLimited, "error");
    default:
      if ((error.field || []).includes("password")) {
        showStatus("");
        return setFieldError($("password"), error.message);
      }
      return showStatus(error.message || FAILURE_MESSAGES.server, "error");
  }
}

// --- after accepting ----------------------------------------------------------------

function storedToken() {
  try {
    return window.sessionStorage.getItem(TOKEN_KEY);
  } catch {
    return null;
  }
}

// The session kept in this tab, if it is the invited email's own (never sent otherwise).
async function sessionOf(email) {
  const token = storedToken();
  if (!token) return null;
  try {
    const me = (await post(ME_QUERY, null, { token }))?.data?.me;
    return me && me.email.toLowerCase() === String(email).toLowerCase() ? token : null;
  } catch {
    return null;
  }
}

function storeToken(token) {
  try {
    window.sessionStorage.setItem(TOKEN_KEY, token);
  } catch {
    // Storage can be disabled; the portal still works, GraphiQL just will not pre-fill.
  }
}

async function welcome(token, viewer) {
  storeToken(token);
  $("password").value = "";
  $("confirm").value = "";
  showStatus("Invitation accepted. Loading your portal…");

  let data = null;
  try {
    data = (await post(WELCOME_QUERY, null, { token }))?.data ?? null;
  } catch {
    data = null;
  }
  const me = data?.me || viewer || {};
  const organization = me.organization?.name;
  $("welcome-title").textContent = me.name ? `Welcome, ${me.name}` : "Welcome";
  $("welcome-text").textContent =
    `You are signed in as ${me.email || "you"}` + (organization ? ` with ${organization}.` : ".");

  if (data?.customers) renderCustomers(data.customers.edges.map((edge) => edge.node));
  if (data?.jobs) renderJobs(data.jobs.edges.map((edge) => edge.node));
  if (data?.customers && data?.jobs) {
    showStatus("Invitation accepted.", "success");
  } else {
    showStatus(
      "Your invitation is accepted, but your portal could not be loaded just now. " +
        "Reload the page later, or explore the API below.",
      "error",
    );
  }
  showView("welcome-view");
}

function renderCustomers(customers) {
  fillList($("welcome-customers"), customers.map((customer) => customer.name));
  $("welcome-customers-empty").hidden = customers.length > 0;
}

function renderJobs(jobs) {
  const rows = jobs.map((job) => {
    const row = document.createElement("tr");
    for (const text of [job.reference, job.title, job.customer?.name]) {
      const cell = document.createElement("td");
      cell.textContent = text ?? "";
      row.append(cell);
    }
    const completed = document.createElement("td");
    completed.append(setTime(document.createElement("time"), job.completedAt, false));
    row.append(completed);
    return row;
  });
  $("jobs-body").replaceChildren(...rows);
  $("jobs-table").hidden = jobs.length === 0;
  $("jobs-empty").hidden = jobs.length > 0;
}

// --- start --------------------------------------------------------------------------

async function start() {
  const token = readToken();
  if (!token) return showProblem(INVALID);
  try {
    const body = await post(PREVIEW_QUERY, { token });
    if (!body?.data || body.errors?.length) throw failureOf(body?.errors);
    const preview = body.data.invitationPreview;
    if (!preview) return showProblem(INVALID);
    if (preview.expired) return showProblem(expiredProblem(preview));
    showInvitation(preview, token, await sessionOf(preview.email));
  } catch (error) {
    showStatus(failureMessage(error), "error");
  }
}

start();
