"use strict";
(function () {
  const form = document.getElementById("card-form");
  const { stripe, card } = portal.card(form.dataset.key);
  const button = form.querySelector("button[type=submit]");

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      portal.say("Checking the card with your bank…");
      const setup = await portal.call("POST", form.dataset.setup);
      if (setup.error) return portal.say(setup.error.message, "error");
      const result = await stripe.confirmCardSetup(setup.client_secret, { payment_method: { card } });
      if (result.error) return portal.say("The card was not saved: " + result.error.message, "error");
      const saved = await portal.call("POST", form.dataset.save, { setup_intent: result.setupIntent.id });
      if (saved.error) return portal.say("The card was not saved: " + saved.error.message, "error");
      portal.say("Card saved. It will be used for auto-recharge.", "success");
      document.getElementById("card-state").textContent = "A card is saved for automatic payments.";
    } finally {
      button.disabled = false;
    }
  });
})();
