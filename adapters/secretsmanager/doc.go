// Package secretsmanager keeps scim-rotator's durable record in an AWS Secrets
// Manager secret, using the service's own rotation stages (AWSPENDING,
// AWSCURRENT, AWSPREVIOUS) the way AWS's rotation Lambdas do, so that a
// crashed rotation resumes from what the secret shows. It also provides the
// `secretsmanager` target: a secret that a sync job (ssosync and the like)
// reads the SCIM token from.
package secretsmanager
