// A stand-in for Stripe.js while Stripe is localstripe (see api/portal/standin.py): the same
// calls, a card element of plain labelled inputs, and the server doing Stripe's part.
(function () {
  "use strict";
  const base = document.currentScript.src.replace(/\/v3\.js(\?.*)?$/, "");

  class CardElement {
    mount(target) {
      const root = typeof target === "string" ? document.querySelector(target) : target;
      const fields = [
        ["number", "Card number", "cc-number", 19],
        ["exp_month", "Expiry month (MM)", "cc-exp-month", 2],
        ["exp_year", "Expiry year (YY)", "cc-exp-year", 4],
        ["cvc", "Security code (CVC)", "cc-csc", 4],
      ];
      this.inputs = {};
      for (const [name, text, autocomplete, size] of fields) {
        const label = document.createElement("label");
        const input = document.createElement("input");
        input.id = "card-" + name.replace("_", "-");
        input.name = name;
        input.inputMode = "numeric";
        input.autocomplete = autocomplete;
        input.maxLength = size + (name === "number" ? 4 : 0);
        input.required = true;
        label.htmlFor = input.id;
        label.textContent = text;
        root.append(label, input);
        this.inputs[name] = input;
      }
    }
    value() {
      const card = {};
      for (const [name, input] of Object.entries(this.inputs)) card[name] = input.value.trim();
      return card;
    }
  }

  async function post(path, body) {
    try {
      const response = await fetch(base + path, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body),
      });
      return await response.json();
    } catch (err) {
      return { error: { type: "api_connection_error", message: String(err) } };
    }
  }

  function confirm(path) {
    return (clientSecret, data) =>
      post(path, { client_secret: clientSecret, card: data.payment_method.card.value() });
  }

  window.Stripe = function () {
    return {
      elements: () => ({ create: () => new CardElement() }),
      confirmCardPayment: confirm("/confirm-payment"),
      confirmCardSetup: confirm("/confirm-setup"),
    };
  };
})();
