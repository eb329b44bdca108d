/** ApplicationFailure types the delivery activity throws; the workflow branches on them. */
export const FAILURE = {
  /** The endpoint is inactive (or gone) at send time: the delivery is skipped, a replay can send it. */
  endpointInactive: 'EndpointInactive',
  /** 410 Gone: the receiver asks us to stop at once. */
  endpointGone: 'EndpointGone',
  /** Any other failed attempt; retried under the policy. */
  attemptFailed: 'AttemptFailed',
} as const;
