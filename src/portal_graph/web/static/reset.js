// Password-reset page. Without a token in the URL it asks for an email and requests a link
// (the answer is the same whether or not the email has an account); with one, it sets the new
// password. Plain DOM, no build step; server text is only ever written with textContent.
import {
  $,
  clearFieldErrors,
  failureOf,
  newPasswordProblem,
  post,
  setFieldError,
  showStatus,
  showView,
  tokenInPath,
} from "./forms.js";

const REQUEST_MUTATION = `mutation RequestPasswordReset($input: RequestPasswordResetInput!) {
  requestPasswordReset(input: $input) { requested userErrors { code field message } }
}`;
const RESET_MUTATION = `mutation ResetPassword($input: ResetPasswordInput!) {
  resetPassword(input: $input) { reset userErrors { code field message } }
}`;
const FAILURE = "Something went wrong. Check your connection and try again.";
const RATE_LIMITED = "Too many attempts. Try again later.";

// The mutation's payload. No session goes with these requests.
async function send(mutation, input) {
  const body = await post(mutation, { input }, { credentials: "omit" });
  const payload = body?.data && Object.values(body.data)[0];
  if (!payload) throw failureOf(body?.errors);
  return payload;
}

function failureMessage(failure) {
  return failure?.kind === "rateLimited" ? RATE_LIMITED : FAILURE;
}

// --- asking for a link ----------------------------------------------------------------

async function requestLink(event) {
  event.preventDefault();
  const email = $("email").value.trim();
  clearFieldErrors([$("email")]);
  if (!email) return setFieldError($("email"), "Enter your email address.");
  $("request-submit").disabled = true;
  try {
    const result = await send(REQUEST_MUTATION, { email });
    const error = result.userErrors?.[0];
    if (error?.code === "RATE_LIMITED") return showStatus(RATE_LIMITED, "error");
    if (error) return setFieldError($("email"), error.message);
    $("sent-email").textContent = email;
    showStatus("");
    showView("sent-view");
  } catch (failure) {
    showStatus(failureMessage(failure), "error");
  } finally {
    $("request-submit").disabled = false;
  }
}

// --- setting the new password ---------------------------------------------------------

async function setPassword(event, token) {
  event.preventDefault();
  const password = $("password").value;
  clearFieldErrors([$("password"), $("confirm")]);
  const problem = newPasswordProblem(password, $("confirm").value);
  if (problem) return setFieldError($(problem[0]), problem[1]);
  $("reset-submit").disabled = true;
  try {
    const result = await send(RESET_MUTATION, { token, password });
    const error = result.userErrors?.[0];
    if (error?.code === "INVALID_TOKEN") return showView("problem-view");
    if (error?.code === "WEAK_PASSWORD") return setFieldError($("password"), error.message);
    if (error) return showStatus(error.message, "error");
    $("password").value = "";
    $("confirm").value = "";
    showStatus("Your password is changed.", "success");
    showView("done-view");
  } catch (failure) {
    showStatus(failureMessage(failure), "error");
  } finally {
    $("reset-submit").disabled = false;
  }
}

const token = tokenInPath();
if (token) {
  $("reset-form").addEventListener("submit", (event) => setPassword(event, token));
  showView("reset-view");
} else {
  $("request-form").addEventListener("submit", requestLink);
  showView("request-view");
}
