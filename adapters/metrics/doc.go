// Package metrics exposes the rotator's measurements to Prometheus: the live
// token's expiry, rotation results, the last run's outcome, the last success,
// whether a rotation is running, how long each step took, AWS Health's
// disagreements and which build is running. The daemon serves them on
// /metrics; one-shot runs (a CronJob) push them to a Pushgateway. The chart's
// alerts and dashboard read these names.
package metrics
