package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
)

// Service is a part of the node with a lifetime. Start must return once the
// service runs (work continues in goroutines it owns); Stop must return once
// they have exited, and is called only after a successful Start.
type Service interface {
	Name() string
	Start(ctx context.Context) error
	Stop() error
}

// lifecycle starts services in order and stops them in reverse. If a
// service fails to start, the ones already started are stopped.
type lifecycle struct {
	log      *slog.Logger
	services []Service
	started  []Service
}

func (l *lifecycle) start(ctx context.Context) error {
	for _, s := range l.services {
		if err := s.Start(ctx); err != nil {
			stopErr := l.stop()
			return errors.Join(fmt.Errorf("node: start %s: %w", s.Name(), err), stopErr)
		}
		l.log.Debug("service started", "service", s.Name())
		l.started = append(l.started, s)
	}
	return nil
}

func (l *lifecycle) stop() error {
	var errs []error
	for i := len(l.started) - 1; i >= 0; i-- {
		s := l.started[i]
		if err := s.Stop(); err != nil {
			errs = append(errs, fmt.Errorf("node: stop %s: %w", s.Name(), err))
			continue
		}
		l.log.Debug("service stopped", "service", s.Name())
	}
	l.started = nil
	return errors.Join(errs...)
}

// funcService adapts a pair of functions to Service.
type funcService struct {
	name  string
	start func(ctx context.Context) error
	stop  func() error
}

func (f *funcService) Name() string                    { return f.name }
func (f *funcService) Start(ctx context.Context) error { return f.start(ctx) }
func (f *funcService) Stop() error                     { return f.stop() }
