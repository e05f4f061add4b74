package factory

import (
	"context"
	"sync"

	"github.com/scim-rotator/scim-rotator/adapters/secretsmanager"
	"github.com/scim-rotator/scim-rotator/config"
)

// SecretRead is a ...SecretsManager key the instance read while it was
// built: what `check` lists (never the value).
type SecretRead struct {
	// Key is the key's config path (notify.slack.webhookUrlSecretsManager).
	Key string
	// Secret names the secret: its id, and its JSON key if any.
	Secret string
}

// secretReader reads an instance's ...SecretsManager keys with its AWS
// credentials and remembers which it read, in order.
type secretReader struct {
	r *secretsmanager.SecretReader

	mu   sync.Mutex
	read []SecretRead
}

func newSecretReader(region string, o Options) *secretReader {
	return &secretReader{r: secretsmanager.NewSecretReader(region, smOptions(o))}
}

func (s *secretReader) ReadSecretsManager(ctx context.Context, key string, ref config.SecretsManagerRef) (string, error) {
	v, err := s.r.ReadSecretsManager(ctx, key, ref)
	if err == nil {
		s.mu.Lock()
		s.read = append(s.read, SecretRead{Key: key, Secret: ref.Describe()})
		s.mu.Unlock()
	}
	return v, err
}

// reads is what was read so far.
func (s *secretReader) reads() []SecretRead {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]SecretRead(nil), s.read...)
}
