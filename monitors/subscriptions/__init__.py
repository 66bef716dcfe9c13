"""Personal subscriptions (``/notify me``): a person hears of the incidents of a rule,
or of every rule, directly (a Slack or Discord direct message, or mail), with their own
severity floor and quiet hours.

``model`` is the pure part (a subscription, its target, and the verdict on one
announcement), ``fanout`` adds the personal outbox rows to a transaction's, and
``admin`` holds the verbs the chat commands call."""
