// Package slack is the Slack notifier: it tells humans what a rotation did
// (or why it could not) as a Block Kit message posted to an incoming webhook,
// with the token ids, per-target results, the failed step and the next
// actions, and never a token value or the webhook URL itself.
package slack
