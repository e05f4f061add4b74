package secretsmanager

import (
	"context"
	"errors"

	"github.com/scim-rotator/scim-rotator/rotator"
)

// TODO(lock): the lease lock over the SCIMROTATOR_LOCK label replaces these.
var errNoLock = errors.New("lock: not implemented yet")

func (s *Store) Acquire(context.Context, rotator.LockRequest) error { return errNoLock }
func (s *Store) Renew(context.Context, rotator.LockRequest) error   { return errNoLock }
func (s *Store) Verify(context.Context, string) error               { return errNoLock }
func (s *Store) Release(context.Context, string) error              { return nil }
func (s *Store) LockState(context.Context) (rotator.LockInfo, error) {
	return rotator.LockInfo{}, nil
}
