// Shared by the portal's payment pages: JSON calls with the session's CSRF token, and a
// live status line read out by screen readers.
"use strict";
const portal = {
  csrf: document.querySelector('meta[name="csrf-token"]').content,
  async call(method, url, body) {
    const response = await fetch(url, {
      method,
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRF-Token": portal.csrf,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      credentials: "same-origin",
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) {
      const message = (data.error && data.error.message) || "Something went wrong (" + response.status + ")";
      return { error: { message } };
    }
    return data;
  },
  say(text, kind) {
    const line = document.getElementById("status");
    line.textContent = text;
    line.dataset.kind = kind || "info";
  },
  card(key) {
    const stripe = Stripe(key);
    const card = stripe.elements().create("card");
    card.mount("#card-element");
    return { stripe, card };
  },
};
