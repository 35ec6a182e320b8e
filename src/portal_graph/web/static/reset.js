// Password-reset page. Without a token in the URL it asks for an email and requests a link
// (the answer is the same whether or not the email has an account); with one, it sets the new
// password. Plain DOM, no build step; server text is only ever written with textContent.
"use strict";

{
  const MIN_PASSWORD_LENGTH = 12;
  const REQUEST_MUTATION = `mutation RequestPasswordReset($input: RequestPasswordResetInput!) {
  requestPasswordReset(input: $input) { requested userErrors { code field message } }
}`;
  const RESET_MUTATION = `mutation ResetPassword($input: ResetPasswordInput!) {
  resetPassword(input: $input) { reset userErrors { code field message } }
}`;
  const FAILURE = "Something went wrong. Check your connection and try again.";
  const RATE_LIMITED = "Too many attempts. Try again later.";

  const $ = (id) => document.getElementById(id);
  const endpoint = $("app").dataset.endpoint || "/graphql";

  async function post(query, variables) {
    const response = await fetch(endpoint, {
      method: "POST",
      headers: {
        "Content-Type": "application/json",
        Accept: "application/graphql-response+json, application/json;q=0.9",
      },
      body: JSON.stringify({ query, variables }),
      credentials: "omit",
      cache: "no-store",
    });
    if (response.status === 429) throw new Error(RATE_LIMITED);
    const body = await response.json();
    const payload = body?.data && Object.values(body.data)[0];
    if (!payload) throw new Error(FAILURE);
    return payload;
  }

  function showStatus(text, tone = "info") {
    $("status").textContent = text;
    $("status").className = `status status-${tone}`;
  }

  function showView(id) {
    for (const view of ["request-view", "sent-view", "reset-view", "done-view", "problem-view"]) {
      $(view).hidden = view !== id;
    }
    $(id).querySelector("h2").focus();
  }

  function setFieldError(input, message) {
    const error = $(`${input.id}-error`);
    error.textContent = message;
    error.hidden = false;
    input.setAttribute("aria-invalid", "true");
    input.focus();
  }

  function clearFieldErrors(inputs) {
    for (const input of inputs) {
      input.removeAttribute("aria-invalid");
      $(`${input.id}-error`).hidden = true;
    }
  }

  function readToken() {
    const last = window.location.pathname.split("/").pop() || "";
    try {
      return decodeURIComponent(last).trim();
    } catch {
      return "";
    }
  }

  // --- asking for a link ----------------------------------------------------------------

  async function requestLink(event) {
    event.preventDefault();
    const email = $("email").value.trim();
    clearFieldErrors([$("email")]);
    if (!email) return setFieldError($("email"), "Enter your email address.");
    $("request-submit").disabled = true;
    try {
      const result = await post(REQUEST_MUTATION, { input: { email } });
      const error = result.userErrors?.[0];
      if (error?.code === "RATE_LIMITED") return showStatus(RATE_LIMITED, "error");
      if (error) return setFieldError($("email"), error.message);
      $("sent-email").textContent = email;
      showStatus("");
      showView("sent-view");
    } catch (failure) {
      showStatus(failure.message || FAILURE, "error");
    } finally {
      $("request-submit").disabled = false;
    }
  }

  // --- setting the new password ---------------------------------------------------------

  async function setPassword(event, token) {
    event.preventDefault();
    const password = $("password").value;
    clearFieldErrors([$("password"), $("confirm")]);
    if ([...password].length < MIN_PASSWORD_LENGTH) {
      return setFieldError($("password"), `Use at least ${MIN_PASSWORD_LENGTH} characters.`);
    }
    if (password !== $("confirm").value) {
      return setFieldError($("confirm"), "The two passwords do not match.");
    }
    $("reset-submit").disabled = true;
    try {
      const result = await post(RESET_MUTATION, { input: { token, password } });
      const error = result.userErrors?.[0];
      if (error?.code === "INVALID_TOKEN") return showView("problem-view");
      if (error?.code === "WEAK_PASSWORD") return setFieldError($("password"), error.message);
      if (error) return showStatus(error.message, "error");
      $("password").value = "";
      $("confirm").value = "";
      showStatus("Your password is changed.", "success");
      showView("done-view");
    } catch (failure) {
      showStatus(failure.message || FAILURE, "error");
    } finally {
      $("reset-submit").disabled = false;
    }
  }

  const token = readToken();
  if (token) {
    $("reset-form").addEventListener("submit", (event) => setPassword(event, token));
    showView("reset-view");
  } else {
    $("request-form").addEventListener("submit", requestLink);
    showView("request-view");
  }
}
