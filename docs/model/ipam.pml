/*
 * ipam.pml -- Promela model of the UE-IP address management protocol of an
 * SMF set: allocation, release, session transfer, crash/recovery with
 * reconciliation, and chunk hand-off on a membership change.
 *
 * Checked with spin by check.sh; README.md (same directory) explains the
 * abstraction, the bounds, the properties, the mutants and the findings.
 *
 * Modelling conventions
 *  - Every protocol step (one local action, or the receipt of one message
 *    together with the durable writes and the replies it causes) is one
 *    atomic step.  A crash can happen between any two steps.  "Crash after
 *    the durable write but before the reply left" is covered by "reply
 *    sent, then crash": a crash throws away every message in flight to or
 *    from the crashed member.
 *  - Links are FIFO channels, one per ordered pair of members (TCP-like).
 *    A crash of either end, or a link drop, loses the connection: messages
 *    in flight both ways, and everything either end learnt over it.
 *  - Sets of allocations are bitmasks: bit a stands for alloc id a (1..K).
 *    A session is identified by its alloc id; its address is addr_of[a]
 *    (part of the session record, identical in every copy).
 *  - One chunk holding NA = 2 addresses (0 and 1).  Its owner is M0 in
 *    epoch 0 and M1 in epoch 1 (at most one membership change), so the
 *    owner of the current epoch is simply `epoch`.
 *  - printf lines are not executed by pan; they make a counterexample
 *    readable when replayed with `spin -t` (check.sh --mutant prints one).
 *
 * Bounds (-D to override): K allocations (<= 3), MAXXFER transfers,
 * MAXCRASH crashes, MAXDROP link drops, EPOCHS membership changes (0/1).
 *
 * Mutants (each -D removes one protection; README.md lists what spin finds):
 *   NO_RECON_FENCE     B accepts a TRANSFER while the owner is reconciling
 *   NO_ALLOC_ID_CHECK  owner frees any LENT address on RELEASE, without
 *                      comparing alloc ids
 *   NO_FORWARD         former owner acks and drops a RELEASE that arrives
 *                      after the hand-off
 *   NO_HANDOFF_WAIT    new owner allocates before the HANDOFF arrived
 *   NO_XFER_COMMIT     transfer as literally briefed: B's copy is usable as
 *                      soon as B stored it (no commit step)
 *   NO_XFER_ACK        A forgets the session when it sends TRANSFER,
 *                      without waiting for B's ack
 *   NO_RELEASE_MASK    drift repair trusts REPORTs even for allocations
 *                      released during the reconciliation
 *   NO_EPOCH_TAG       REPORTs made under an older epoch are accepted and
 *                      an epoch change does not restart a reconciliation
 *
 * Properties (ltl a..d below, and `all`, their conjunction; pan -N picks
 * one per search.  e is a monitor process, compiled in unless -DNO_PROP_E,
 * so it is checked in every search):
 *   a  never held twice
 *   b  nothing freed is leaked (every quiescent state)
 *   c  nothing acknowledged is lost
 *   d  the owner's view agrees with the sessions (quiescent states, and
 *      whenever the owner touches its own session's address)
 *   e  every terminal state is quiescent (no deadlock, no message or
 *      durable obligation left behind)
 */

/* ------------------------------------------------------------------ */
/* Bounds                                                             */
/* ------------------------------------------------------------------ */
#define N   3               /* members M0..M2 */
#define NA  2               /* addresses in the (single) chunk */
#ifndef K
#define K   3               /* allocations (alloc ids 1..K), K <= 3 */
#endif
#ifndef MAXXFER
#define MAXXFER 2           /* TRANSFERs started, in total */
#endif
#ifndef MAXCRASH
#define MAXCRASH 1          /* crashes, in total */
#endif
#ifndef MAXDROP
#define MAXDROP 0           /* link drops between live members, in total */
#endif
#ifndef EPOCHS
#define EPOCHS 1            /* membership changes (0 or 1) */
#endif
#ifndef QCAP
#define QCAP 8              /* link capacity; overflow fails an assertion */
#endif

/* owner's durable view of one address */
#define FREE 0
#define OWN  1              /* held by one of the owner's own sessions */
#define LENT 2              /* held by a session controlled by another member */
#define QUAR 3              /* released, quarantined; becomes FREE later */

#define BIT(x)    (1 << (x))
#define OWNER     epoch                    /* chunk owner: M0, then M1 */
#define PEERS(m)  (7 & ~BIT(m))
#define UPMASK    ((up[0] -> 1 : 0) | (up[1] -> 2 : 0) | (up[2] -> 4 : 0))
#define V(m,i)    ((m)*NA + (i))           /* index into vst/vaid */
#define L(s,d)    ((s)*N + (d))            /* index of a pair (s,d) */
#define LK(s,d)   ((s)*2 + ((d) + N - (s)) % N - 1)  /* link s->d, s != d */
#define XS(m,a)   ((m)*(K+1) + (a))        /* index into xsrc */

mtype = { TRANSFER, XACK, XNAK, XCOMMIT,   /* session transfer          */
          RELEASE, RACK, RBUSY,            /* remote release            */
          RECOVERY, REPORT, RECONCILED,    /* crash recovery            */
          HANDOFF, HACK };                 /* chunk hand-off            */

/* link[LK(s,d)] carries messages from s to d: (type, arg1, arg2) */
chan link[N*(N-1)] = [QCAP] of { mtype, byte, byte };

/* ------------------------------------------------------------------ */
/* Durable state of each member (survives a crash)                    */
/* ------------------------------------------------------------------ */
byte held[N];       /* sessions stored (incl. unconfirmed / being sent) */
byte unconf[N];     /* received by TRANSFER, commit not yet seen        */
byte xsrc[N*(K+1)]; /* xsrc[XS(m,a)]: for m's unconfirmed session a,
                       the member it came from                          */
byte xaid[N];       /* session with an outgoing TRANSFER pending (0: -) */
byte xdst[N];       /*   ... and its destination                       */
byte outbox[N];     /* RELEASEs not yet acked by the chunk owner        */
bool hasview[N];    /* chunk view installed (the owner; the old owner
                       keeps its frozen view until HANDOFF is acked)    */
byte vst[N*NA];     /* chunk view: FREE/OWN/LENT/QUAR per address       */
byte vaid[N*NA];    /* alloc id for OWN/LENT                            */
bool hpend[N];      /* must hand the chunk off (old owner)              */

/* ------------------------------------------------------------------ */
/* Volatile state (lost in a crash; per-connection parts are lost     */
/* when the connection drops)                                         */
/* ------------------------------------------------------------------ */
bool up[N];
bool recon[N];      /* reconciling after a restart                      */
byte asked[N];      /* peers sent RECOVERY on the current connection    */
byte reported[N];   /* peers whose REPORT was accepted                  */
byte rep[N*N];      /* rep[L(m,p)]: alloc ids p reported to m           */
byte relseen[N];    /* alloc ids seen released during this round       */
byte seen[N];       /* seen[p] bit o: p got o's RECOVERY, not yet its
                       RECONCILED, connection not dropped since         */
byte obsent[N*N];   /* obsent[L(m,d)]: outbox entries sent to d on the
                       current connection (awaiting RACK)               */
bool xsent[N];      /* pending TRANSFER sent on the current connection  */
byte acksent[N];    /* unconfirmed sessions whose XACK was sent         */
bool hsent[N];      /* HANDOFF sent on the current connection           */

/* ------------------------------------------------------------------ */
/* Environment counters and ghost state (for the properties only)     */
/* ------------------------------------------------------------------ */
byte epoch;
byte nalloc, nxfer, ncrash, ndrop;
byte live;          /* allocations created and not yet released         */
byte amask[NA];     /* alloc ids ever allocated at address i            */
byte addr_of[K+1];  /* address of each allocation (part of the session) */
bool viewbad;       /* an owner's view disagreed with one of its own
                       sessions, or REPORTs disagreed (property d)      */

/* scratch registers, used only inside one atomic step: not in the state */
hidden byte t_a, t_b, t_c, t_i, t_j;
hidden mtype t_m;

/* ------------------------------------------------------------------ */
/* Helpers                                                            */
/* ------------------------------------------------------------------ */
#define HELD_ANY   (held[0] | held[1] | held[2])
#define ONEBIT(x)  (((x) & ((x) - 1)) == 0)          /* 0 or 1 bit set */

/* sessions m may release or transfer: confirmed, not being transferred */
#define USABLE(m)  (held[m] & ~unconf[m] & ~BIT(xaid[m]))

/* pick (nondeterministically) into v one alloc id of the non-empty set s */
inline pick_aid(v, s) {
  if
  :: (s) & BIT(1) -> v = 1
  :: (s) & BIT(2) -> v = 2
  :: (s) & BIT(3) -> v = 3
  fi
}
/* lowest alloc id of a non-empty set */
inline low_aid(v, s) {
  if
  :: (s) & BIT(1) -> v = 1
  :: else -> if :: (s) & BIT(2) -> v = 2 :: else -> v = 3 fi
  fi
}

/* the owner m touches address i for its own session aid: its view must
   say OWN or LENT with that alloc id (else property d fails) */
inline view_check(m, i, aid) {
  if
  :: (vst[V(m,i)] == OWN || vst[V(m,i)] == LENT) && vaid[V(m,i)] == aid -> skip
  :: else -> viewbad = 1
  fi
}

/* (arguments must be plain variables or constants) */
inline send(s, d, mt, x, y) {
  assert(nfull(link[LK(s,d)]));      /* QCAP is large enough */
  link[LK(s,d)]!mt,x,y
}

inline drain(c) {
  do
  :: nempty(c) -> c?_,_,_
  :: empty(c) -> break
  od
}

/* The transfer fence: B refuses a session while, in B's view, the owner
   of the session's address is reconciling. */
#ifdef NO_RECON_FENCE
#define FENCED(b) false
#else
#define FENCED(b) (OWNER != (b) && (seen[b] & BIT(OWNER)))
#endif

/* While reconciling, remember every allocation seen released: a REPORT
   may predate the release and must not resurrect it (drift repair). */
#ifdef NO_RELEASE_MASK
inline note_release(m, aid) { skip }
#else
inline note_release(m, aid) {
  if :: recon[m] -> relseen[m] = relseen[m] | BIT(aid) :: else -> skip fi
}
#endif

/* Owner m applies RELEASE(aid) to its view: LENT with the same alloc id
   -> QUAR; anything else is stale or a duplicate and is ignored. */
inline apply_release(m, aid) {
  t_i = addr_of[aid];
  note_release(m, aid);
  if
#ifdef NO_ALLOC_ID_CHECK
  :: vst[V(m,t_i)] == LENT ->
#else
  :: vst[V(m,t_i)] == LENT && vaid[V(m,t_i)] == aid ->
#endif
     printf("M%d: addr %d LENT(%d) -> QUAR\n", m, t_i, vaid[V(m,t_i)]);
     vst[V(m,t_i)] = QUAR; vaid[V(m,t_i)] = 0
  :: else -> printf("M%d: RELEASE(%d) stale, ignored\n", m, aid)
  fi
}

/* New owner m installs one address of a HANDOFF: e = state*8 + aid.
   Its own sessions become OWN, everybody else's LENT. */
inline install(m, i, e) {
  t_j = (e) / 8;
  if
  :: t_j == OWN || t_j == LENT ->
     t_b = (e) % 8;
     vst[V(m,i)] = ((held[m] & BIT(t_b)) -> OWN : LENT);
     vaid[V(m,i)] = t_b
  :: else ->
     vst[V(m,i)] = t_j; vaid[V(m,i)] = 0
  fi
}
#define ENC(m,i) (vst[V(m,i)] * 8 + vaid[V(m,i)])

/* Reconciliation of member m is complete: all peers reported. */
inline finish_recon(m) {
  recon[m] = 0;
  if
  :: OWNER == m && hasview[m] ->
     /* all reported sessions, minus those released meanwhile */
     t_a = (rep[L(m,0)] | rep[L(m,1)] | rep[L(m,2)]) & ~relseen[m];
     for (t_i : 0 .. NA-1) {
       if :: !ONEBIT(t_a & amask[t_i]) -> viewbad = 1 :: else -> skip fi;
       if
       /* LENT, nobody reports it, not one of m's own: a missed release */
       :: vst[V(m,t_i)] == LENT && (t_a & amask[t_i]) == 0 &&
             (held[m] & amask[t_i]) == 0 ->
          printf("M%d: reconcile: addr %d LENT(%d) -> FREE\n", m, t_i, vaid[V(m,t_i)]);
          vst[V(m,t_i)] = FREE; vaid[V(m,t_i)] = 0
       /* FREE but some peer holds it: drift repair */
       :: vst[V(m,t_i)] == FREE && (t_a & amask[t_i]) != 0 ->
          low_aid(t_b, t_a & amask[t_i]);
          printf("M%d: reconcile: addr %d FREE -> LENT(%d)\n", m, t_i, t_b);
          vst[V(m,t_i)] = LENT; vaid[V(m,t_i)] = t_b
       :: else -> skip
       fi
     }
  :: else -> skip        /* m owns no chunk now: nothing to repair */
  fi;
  printf("M%d: reconciled, RECONCILED to peers\n", m);
  asked[m] = 0; reported[m] = 0; relseen[m] = 0;
  rep[L(m,0)] = 0; rep[L(m,1)] = 0; rep[L(m,2)] = 0;
  for (t_j : 0 .. N-1) {
    if :: t_j != m -> send(m, t_j, RECONCILED, 0, 0) :: else -> skip fi
  }
}

/* ------------------------------------------------------------------ */
/* Message handling: member me receives one message from peer p       */
/* ------------------------------------------------------------------ */
inline deliver(me, p) {
  link[LK(p,me)]?t_m,t_a,t_b;
  printf("M%d <- M%d: %e %d %d\n", me, p, t_m, t_a, t_b);
  if
  /* ---- transfer: B = me receives session t_a from A = p ---- */
  :: t_m == TRANSFER ->
     if
     :: held[me] & BIT(t_a) ->            /* duplicate (resent): re-ack */
        acksent[me] = acksent[me] | (BIT(t_a) & unconf[me]);
        send(me, p, XACK, t_a, 0)
     :: else ->
        if
        :: FENCED(me) ->                  /* owner reconciling: busy */
           send(me, p, XNAK, t_a, 0)
        :: else ->
           held[me] = held[me] | BIT(t_a);
#ifndef NO_XFER_COMMIT
           unconf[me] = unconf[me] | BIT(t_a); xsrc[XS(me,t_a)] = p;
           acksent[me] = acksent[me] | BIT(t_a);
#endif
           send(me, p, XACK, t_a, 0)
        fi
     fi
  /* ---- transfer: A = me learns that B = p stored session t_a ---- */
  :: t_m == XACK ->
     if
     :: xaid[me] == t_a && xdst[me] == p ->
        held[me] = held[me] & ~BIT(t_a);
        if
        :: OWNER == me && hasview[me] ->
           t_i = addr_of[t_a];
           view_check(me, t_i, t_a);
           vst[V(me,t_i)] = LENT; vaid[V(me,t_i)] = t_a
        :: else -> skip
        fi;
        xaid[me] = 0; xdst[me] = 0; xsent[me] = 0
     :: else -> skip          /* already done: A deleted it earlier */
     fi
#ifndef NO_XFER_COMMIT
     ; send(me, p, XCOMMIT, t_a, 0)
#endif
  :: t_m == XNAK ->           /* B was busy: A keeps the session */
     if
     :: xaid[me] == t_a && xdst[me] == p ->
        xaid[me] = 0; xdst[me] = 0; xsent[me] = 0
     :: else -> skip
     fi
  :: t_m == XCOMMIT ->        /* A has deleted its copy: ours is usable */
     if
     :: (unconf[me] & BIT(t_a)) && xsrc[XS(me,t_a)] == p ->
        unconf[me] = unconf[me] & ~BIT(t_a);
        acksent[me] = acksent[me] & ~BIT(t_a);
        xsrc[XS(me,t_a)] = 0
     :: else -> skip          /* stale: answer to a duplicate XACK */
     fi
  /* ---- remote release of t_a, arriving at the (former) owner me ---- */
  :: t_m == RELEASE ->
     if
     :: OWNER == me && hasview[me] -> apply_release(me, t_a)
     :: OWNER != me ->                     /* handed off: forward */
#ifndef NO_FORWARD
        outbox[me] = outbox[me] | BIT(t_a)
#else
        skip
#endif
     :: else -> skip
     fi;
     if
     :: OWNER == me && !hasview[me] ->     /* HANDOFF not yet here */
        send(me, p, RBUSY, t_a, 0)
     :: else ->
        send(me, p, RACK, t_a, 0)
     fi
  :: t_m == RACK ->
     outbox[me] = outbox[me] & ~BIT(t_a);
     obsent[L(me,p)] = obsent[L(me,p)] & ~BIT(t_a)
  :: t_m == RBUSY ->          /* owner has not got the chunk yet: retry */
     obsent[L(me,p)] = obsent[L(me,p)] & ~BIT(t_a)
  /* ---- recovery ---- */
  :: t_m == RECOVERY ->       /* p restarted: report sessions of p's chunk */
     seen[me] = seen[me] | BIT(p);
     if :: OWNER == p -> t_c = held[me] :: else -> t_c = 0 fi;
     send(me, p, REPORT, epoch, t_c)
  :: t_m == REPORT ->         /* t_a = epoch it was made in, t_b = aids */
     if
#ifdef NO_EPOCH_TAG
     :: recon[me] && !(reported[me] & BIT(p)) ->
#else
     :: recon[me] && t_a == epoch && (asked[me] & BIT(p)) &&
           !(reported[me] & BIT(p)) ->
#endif
        reported[me] = reported[me] | BIT(p);
        rep[L(me,p)] = t_b;
        if
        :: reported[me] == PEERS(me) -> finish_recon(me)
        :: else -> skip
        fi
     :: else -> skip          /* stale (older epoch, dropped connection) */
     fi
  :: t_m == RECONCILED ->
     seen[me] = seen[me] & ~BIT(p)
  /* ---- hand-off ---- */
  :: t_m == HANDOFF ->
     if
     :: OWNER == me && !hasview[me] ->
        t_c = t_b;
        install(me, 0, t_a); install(me, 1, t_c);
        hasview[me] = 1;
        printf("M%d: chunk installed: addr0 %d/%d addr1 %d/%d\n", me,
               vst[V(me,0)], vaid[V(me,0)], vst[V(me,1)], vaid[V(me,1)])
     :: else -> skip          /* duplicate */
     fi;
     send(me, p, HACK, 0, 0)
  :: t_m == HACK ->           /* old owner: the new owner has the chunk */
     hpend[me] = 0; hsent[me] = 0; hasview[me] = 0;
     vst[V(me,0)] = FREE; vaid[V(me,0)] = 0;
     vst[V(me,1)] = FREE; vaid[V(me,1)] = 0
  fi;
  t_m = 0; t_a = 0; t_b = 0; t_c = 0; t_i = 0; t_j = 0
}

#ifdef NO_HANDOFF_WAIT
#define MAY_ALLOC(m) (OWNER == (m))
#else
#define MAY_ALLOC(m) (OWNER == (m) && hasview[m])
#endif

#define CANACK(m,a) ((unconf[m] & ~acksent[m] & BIT(a)) && up[xsrc[XS(m,a)]])

/* ------------------------------------------------------------------ */
/* Member: one SMF.  Each loop iteration is one atomic protocol step: */
/* receive a message, start an operation (allocate, release,          */
/* transfer), re-send something still owed after a reconnect, or let  */
/* a quarantine expire.  A member that is down does nothing.          */
/* ------------------------------------------------------------------ */
proctype Member(byte me)
{
end:
  do
  /* receive one message from either peer */
  :: atomic { up[me] && nempty(link[LK((me+1)%N, me)]) -> deliver(me, (me+1)%N) }
  :: atomic { up[me] && nempty(link[LK((me+2)%N, me)]) -> deliver(me, (me+2)%N) }

  /* allocate a FREE address of our chunk for a new session */
  :: atomic { up[me] && !recon[me] && MAY_ALLOC(me) && nalloc < K &&
                 (vst[V(me,0)] == FREE || vst[V(me,1)] == FREE) ->
       nalloc++;
       if
       :: vst[V(me,0)] == FREE -> t_i = 0
       :: vst[V(me,1)] == FREE -> t_i = 1
       fi;
       printf("M%d: allocate addr %d for new session %d\n", me, t_i, nalloc);
       vst[V(me,t_i)] = OWN; vaid[V(me,t_i)] = nalloc;
       addr_of[nalloc] = t_i; amask[t_i] = amask[t_i] | BIT(nalloc);
       held[me] = held[me] | BIT(nalloc);
       live = live | BIT(nalloc);
       t_i = 0 }

  /* release one of our sessions */
  :: atomic { up[me] && USABLE(me) != 0 ->
       pick_aid(t_a, USABLE(me));
       printf("M%d: release session %d (addr %d)\n", me, t_a, addr_of[t_a]);
       held[me] = held[me] & ~BIT(t_a);
       live = live & ~BIT(t_a);
       if
       :: OWNER == me && hasview[me] ->        /* own chunk: quarantine */
          t_i = addr_of[t_a];
          view_check(me, t_i, t_a);
          vst[V(me,t_i)] = QUAR; vaid[V(me,t_i)] = 0;
          note_release(me, t_a)
       :: OWNER == me && !hasview[me] ->       /* HANDOFF still coming: */
          outbox[me] = outbox[me] | BIT(t_a)   /* apply it once installed */
       :: OWNER != me ->              /* durable outbox entry, then send */
          outbox[me] = outbox[me] | BIT(t_a);
          if
          :: up[OWNER] ->
             send(me, OWNER, RELEASE, t_a, 0);
             obsent[L(me,OWNER)] = obsent[L(me,OWNER)] | BIT(t_a)
          :: else -> skip                   /* sent after reconnect */
          fi
       fi;
       t_a = 0; t_i = 0 }

  /* start transferring one of our sessions to a peer */
  :: atomic { up[me] && xaid[me] == 0 && nxfer < MAXXFER && USABLE(me) != 0 ->
       nxfer++;
       pick_aid(t_a, USABLE(me));
       xaid[me] = t_a;
       if
       :: xdst[me] = (me+1)%N
       :: xdst[me] = (me+2)%N
       fi;
       printf("M%d: transfer session %d to M%d\n", me, t_a, xdst[me]);
#ifdef NO_XFER_ACK
       held[me] = held[me] & ~BIT(t_a);      /* forget it right away */
#endif
       if
       :: up[xdst[me]] ->
          send(me, xdst[me], TRANSFER, t_a, 0); xsent[me] = 1
       :: else -> skip                      /* sent after reconnect */
       fi;
       t_a = 0 }

  /* re-send the pending TRANSFER after a reconnect */
  :: atomic { up[me] && xaid[me] != 0 && !xsent[me] && up[xdst[me]] ->
       send(me, xdst[me], TRANSFER, xaid[me], 0);
       xsent[me] = 1 }

  /* re-send XACK for an unconfirmed session after a reconnect */
  :: atomic { up[me] && (CANACK(me,1) || CANACK(me,2) || CANACK(me,3)) ->
       if
       :: CANACK(me,1) -> t_a = 1
       :: CANACK(me,2) -> t_a = 2
       :: CANACK(me,3) -> t_a = 3
       fi;
       t_b = xsrc[XS(me,t_a)];
       send(me, t_b, XACK, t_a, 0);
       acksent[me] = acksent[me] | BIT(t_a);
       t_a = 0; t_b = 0 }

  /* re-send an outbox RELEASE to the chunk owner: after a reconnect,
     after the chunk moved, or a RELEASE we forward as former owner */
  :: atomic { up[me] && OWNER != me && up[OWNER] &&
                 (outbox[me] & ~obsent[L(me,OWNER)]) != 0 ->
       pick_aid(t_a, outbox[me] & ~obsent[L(me,OWNER)]);
       send(me, OWNER, RELEASE, t_a, 0);
       obsent[L(me,OWNER)] = obsent[L(me,OWNER)] | BIT(t_a);
       t_a = 0 }

  /* we are the owner and have the chunk, and our outbox has entries for
     it (written before the chunk moved to us, or before its HANDOFF
     arrived): apply them */
  :: atomic { up[me] && OWNER == me && hasview[me] && outbox[me] != 0 ->
       for (t_j : 1 .. K) {
         if
         :: outbox[me] & BIT(t_j) -> apply_release(me, t_j)
         :: else -> skip
         fi
       }
       outbox[me] = 0; t_i = 0; t_j = 0 }

  /* reconciling: ask a peer (again) for its REPORT -- after a reconnect,
     or after an epoch change voided the round */
  :: atomic { up[me] && recon[me] && (PEERS(me) & ~asked[me] & UPMASK) != 0 ->
       if
       :: (PEERS(me) & ~asked[me] & UPMASK) & BIT((me+1)%N) -> t_j = (me+1)%N
       :: (PEERS(me) & ~asked[me] & UPMASK) & BIT((me+2)%N) -> t_j = (me+2)%N
       fi;
       send(me, t_j, RECOVERY, 0, 0);
       asked[me] = asked[me] | BIT(t_j);
       t_j = 0 }

  /* old owner: (re-)send the frozen chunk view to the new owner */
  :: atomic { up[me] && hpend[me] && !hsent[me] && up[OWNER] ->
       t_a = ENC(me,0); t_b = ENC(me,1);
       send(me, OWNER, HANDOFF, t_a, t_b);
       hsent[me] = 1; t_a = 0; t_b = 0 }

  /* a quarantine expires */
  :: atomic { up[me] && OWNER == me && hasview[me] && vst[V(me,0)] == QUAR ->
       printf("M%d: addr 0 QUAR -> FREE\n", me);
       vst[V(me,0)] = FREE }
  :: atomic { up[me] && OWNER == me && hasview[me] && vst[V(me,1)] == QUAR ->
       printf("M%d: addr 1 QUAR -> FREE\n", me);
       vst[V(me,1)] = FREE }
  od
}

/* ------------------------------------------------------------------ */
/* Connection loss between m and q: messages in flight both ways are  */
/* lost, and each end forgets what it learnt over the connection and  */
/* what it had sent on it (so it re-sends whatever is still owed).    */
/* ------------------------------------------------------------------ */
inline forget_peer(x, y) {      /* x's per-connection state about y */
  seen[x] = seen[x] & ~BIT(y);
  asked[x] = asked[x] & ~BIT(y);        /* discard y's report and */
  reported[x] = reported[x] & ~BIT(y);  /* ask y again later      */
  rep[L(x,y)] = 0;
  obsent[L(x,y)] = 0;
  if :: xdst[x] == y -> xsent[x] = 0 :: else -> skip fi;
  if :: hpend[x] && OWNER == y -> hsent[x] = 0 :: else -> skip fi;
  for (t_a : 1 .. K) {
    if :: (unconf[x] & BIT(t_a)) && xsrc[XS(x,t_a)] == y ->
          acksent[x] = acksent[x] & ~BIT(t_a)
       :: else -> skip fi
  }
  t_a = 0
}
inline disconnect(m, q) {
  drain(link[LK(m,q)]); drain(link[LK(q,m)]);
  forget_peer(m, q); forget_peer(q, m)
}

/* ------------------------------------------------------------------ */
/* Chaos: crashes, restarts and link drops.  A crash drops all of the */
/* member's connections and loses its volatile state; the durable     */
/* state stays.  A restart broadcasts RECOVERY (peers that are down   */
/* are asked when they are back) and starts reconciliation.           */
/* ------------------------------------------------------------------ */
inline crash(m) {
  ncrash++; up[m] = 0;
  printf("*** M%d crashes\n", m);
  for (t_j : 0 .. N-1) {
    if :: t_j != m -> disconnect(m, t_j) :: else -> skip fi
  }
  recon[m] = 0; relseen[m] = 0; seen[m] = 0;
  xsent[m] = 0; acksent[m] = 0; hsent[m] = 0;
  t_j = 0
}

inline restart(m) {
  up[m] = 1; recon[m] = 1;
  printf("*** M%d restarts, sends RECOVERY\n", m);
  for (t_j : 0 .. N-1) {
    if
    :: t_j != m && up[t_j] ->
       send(m, t_j, RECOVERY, 0, 0); asked[m] = asked[m] | BIT(t_j)
    :: else -> skip
    fi
  }
  t_j = 0
}

inline linkdrop(m, q) {
  ndrop++;
  printf("*** link M%d-M%d drops\n", m, q);
  disconnect(m, q)
}

proctype Chaos()
{
end:
  do
  :: atomic { ncrash < MAXCRASH && up[0] -> crash(0) }
  :: atomic { ncrash < MAXCRASH && up[1] -> crash(1) }
  :: atomic { ncrash < MAXCRASH && up[2] -> crash(2) }
  :: atomic { !up[0] -> restart(0) }
  :: atomic { !up[1] -> restart(1) }
  :: atomic { !up[2] -> restart(2) }
  :: atomic { ndrop < MAXDROP && up[0] && up[1] -> linkdrop(0, 1) }
  :: atomic { ndrop < MAXDROP && up[0] && up[2] -> linkdrop(0, 2) }
  :: atomic { ndrop < MAXDROP && up[1] && up[2] -> linkdrop(1, 2) }
  od
}

/* ------------------------------------------------------------------ */
/* Membership: at most one epoch change, moving the chunk from M0 to  */
/* M1.  M0 durably learns it must hand off, stops allocating and      */
/* sends HANDOFF at once if it can.  A member that is reconciling     */
/* restarts its round: REPORTs made under the old epoch describe the  */
/* wrong chunks and are ignored (they carry their epoch).             */
/* ------------------------------------------------------------------ */
proctype Membership()
{
#if EPOCHS > 0
  atomic {
    epoch = 1;
    hpend[0] = 1;
    printf("*** epoch 1: chunk moves from M0 to M1\n");
    if
    :: up[0] && up[1] ->
       t_a = ENC(0,0); t_b = ENC(0,1);
       send(0, 1, HANDOFF, t_a, t_b); hsent[0] = 1;
       t_a = 0; t_b = 0
    :: else -> skip
    fi;
#ifndef NO_EPOCH_TAG
    for (t_j : 0 .. N-1) {
      if
      :: recon[t_j] ->
         asked[t_j] = 0; reported[t_j] = 0;
         rep[L(t_j,0)] = 0; rep[L(t_j,1)] = 0; rep[L(t_j,2)] = 0
      :: else -> skip
      fi
    }
#endif
    t_j = 0
  }
#else
  skip
#endif
}

/* ------------------------------------------------------------------ */
/* Properties                                                         */
/* ------------------------------------------------------------------ */
/* (a) no address is held by two sessions with different alloc ids */
#define INV_A (ONEBIT(HELD_ANY & amask[0]) && ONEBIT(HELD_ANY & amask[1]))

/* (c) every live (created, not yet released) allocation is stored by at
   least one member */
#define INV_C ((live & ~HELD_ANY) == 0)

/* quiescent: everybody up and reconciled, no message in flight, no
   durable obligation (outbox, pending transfer/commit, hand-off) left */
#define CHEMPTY (len(link[0]) + len(link[1]) + len(link[2]) + \
                 len(link[3]) + len(link[4]) + len(link[5]) == 0)
#define QUIESCENT (up[0] && up[1] && up[2] && \
                   !recon[0] && !recon[1] && !recon[2] && CHEMPTY && \
                   (outbox[0] | outbox[1] | outbox[2]) == 0 && \
                   (xaid[0] | xaid[1] | xaid[2]) == 0 && \
                   (unconf[0] | unconf[1] | unconf[2]) == 0 && \
                   !hpend[0] && hasview[OWNER])

/* (b) an address no session holds is FREE or QUAR at its owner */
#define OV(i)       vst[V(OWNER,i)]
#define NOLEAK(i)   ((HELD_ANY & amask[i]) != 0 || OV(i) == FREE || OV(i) == QUAR)
#define INV_B       (NOLEAK(0) && NOLEAK(1))

/* (d) an address some session holds is OWN/LENT at its owner, with the
   holder's alloc id */
#define AGREE(i)    ((HELD_ANY & amask[i]) == 0 || \
                     ((OV(i) == OWN || OV(i) == LENT) && \
                      (HELD_ANY & amask[i]) == BIT(vaid[V(OWNER,i)])))
#define INV_D       (AGREE(0) && AGREE(1))

/* The invariants as LTL safety formulas; pan -N <name> selects one.  (e) is about terminal states, which a never claim
   cannot see, so it is a monitor process; it runs alongside whichever
   claim is selected (its failures are told apart by their text). */
ltl a { [] INV_A }
ltl b { [] (QUIESCENT -> INV_B) }
ltl c { [] INV_C }
ltl d { [] (!viewbad && (QUIESCENT -> INV_D)) }
/* all four at once: what check.sh runs first; only when it fails are
   the properties searched one by one, to tell which ones are violated */
ltl all { [] (INV_A && INV_C && !viewbad && (QUIESCENT -> (INV_B && INV_D))) }

#ifndef NO_PROP_E
/* timeout holds when no other process can move: a terminal state */
active proctype MonitorE() { end: timeout -> assert(QUIESCENT) }
#endif

/* ------------------------------------------------------------------ */
/* Start: all members up, M0 owns the (all FREE) chunk in epoch 0.    */
/* ------------------------------------------------------------------ */
init {
  atomic {
    up[0] = 1; up[1] = 1; up[2] = 1;
    hasview[0] = 1;
    run Member(0); run Member(1); run Member(2);
    run Chaos(); run Membership()
  }
}
