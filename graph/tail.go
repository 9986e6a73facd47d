package graph

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/loggraph/loggraph/db"
	"github.com/loggraph/loggraph/model"
)

// CodeTailInterrupted ends a logTail subscription that may have missed logs (the
// server lost its database connection, or is shutting down): the client should
// subscribe again, and knows there may be a gap.
const CodeTailInterrupted = "TAIL_INTERRUPTED"

// logTail streams the caller's workspace's new logs matching filter through the
// server's TailHub. The hub never waits for a subscriber: the goroutine below is the
// only thing that blocks on the client, and it selects on ctx.Done() (the client
// unsubscribed or went away) so that it and the subscription are freed at once.
func (r *Resolver) logTail(ctx context.Context, filter *model.LogFilter) (<-chan *model.LogTailEvent, error) {
	p, err := reader(ctx)
	if err != nil {
		return nil, err
	}
	if err := filter.Validate(); err != nil {
		return nil, err
	}
	if r.Tail == nil {
		return nil, errors.New("logTail: no TailHub wired into the Resolver")
	}
	sub, err := r.Tail.Subscribe(ctx, p.Workspace.ID, db.LogMatcher(filter))
	switch {
	case errors.Is(err, db.ErrTailUnavailable), errors.Is(err, db.ErrTailStopped):
		return nil, userError(CodeTailInterrupted, "%s", err.Error())
	case err != nil:
		return nil, err
	}
	ch := make(chan *model.LogTailEvent)
	go func() {
		defer close(ch) // after AddSubscriptionError: gqlgen sends the error when the channel closes
		defer sub.Close()
		for {
			logs, dropped, err := sub.Next(ctx)
			if err != nil {
				if ctx.Err() == nil {
					// Never silent: the client gets an error message for this operation
					// (graphql-transport-ws `error`, graphql-ws `error`) and no complete.
					transport.AddSubscriptionError(ctx, userError(CodeTailInterrupted, "%s", err.Error()))
				}
				return
			}
			ev := &model.LogTailEvent{Logs: logs, Dropped: dropped}
			select {
			case ch <- ev:
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch, nil
}
