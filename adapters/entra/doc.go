// Package entra is the Microsoft Entra ID target: it does through Microsoft
// Graph what an admin does by hand on an enterprise application's
// Provisioning page (Secret Token, Test connection, Save, watch the sync),
// and proves the provisioning service uses the new token before the old one
// is deleted, by provisioning a canary on demand or waiting for a sync cycle.
//
// It imports only msgraph-sdk-go's serviceprincipals and models packages:
// the root package would compile every Graph API into the binary.
package entra
