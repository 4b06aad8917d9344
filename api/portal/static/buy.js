"use strict";
(function () {
  const form = document.getElementById("buy-form");
  const { stripe, card } = portal.card(form.dataset.key);
  const button = form.querySelector("button[type=submit]");
  let pending = null; // a purchase whose card was declined: pay it again with another card
  form.elements.other.addEventListener("input", () => {
    form.querySelector('input[name="amount"][value="other"]').checked = true;
  });

  function chosenAmount() {
    const picked = form.querySelector('input[name="amount"]:checked');
    return picked && picked.value !== "other" ? picked.value : form.elements.other.value.trim();
  }

  async function follow(purchase) {
    for (let i = 0; i < 120; i++) {
      const now = await portal.call("GET", form.dataset.purchases + "/" + purchase.id);
      if (now.status === "granted") {
        pending = null;
        portal.say("Payment received: " + now.credits + " " + form.dataset.unit + " added to your balance.", "success");
        return;
      }
      if (now.status === "failed") {
        pending = null;
        portal.say("The payment failed: " + (now.reason || "no reason given") + ". Nothing was charged.", "error");
        return;
      }
      await new Promise((done) => setTimeout(done, 1000));
    }
    portal.say("The payment is still being processed. Your credits appear on the overview once it completes.", "info");
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    try {
      const amount = chosenAmount();
      if (!pending || pending.amount !== amount) {
        portal.say("Starting the payment…");
        const made = await portal.call("POST", form.dataset.purchases, { amount });
        if (made.error) return portal.say(made.error.message, "error");
        pending = { ...made, amount };
      }
      portal.say("Confirming the payment with your bank…");
      const result = await stripe.confirmCardPayment(pending.client_secret, { payment_method: { card } });
      if (result.error) {
        return portal.say("Your card was not charged: " + result.error.message + " Try another card.", "error");
      }
      portal.say("Payment sent. Waiting for confirmation…");
      await follow(pending);
    } finally {
      button.disabled = false;
    }
  });
})();
