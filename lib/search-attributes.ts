import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

// Custom search attributes on every delivery workflow, so an operator can filter the Temporal Web UI
// with queries such as `EndpointId = "ep_…" AND DeliveryStatus = "pending"`.
export const APP_ID = defineSearchAttributeKey('AppId', SearchAttributeType.KEYWORD);
export const SUBSCRIBER_ID = defineSearchAttributeKey('SubscriberId', SearchAttributeType.KEYWORD);
export const ENDPOINT_ID = defineSearchAttributeKey('EndpointId', SearchAttributeType.KEYWORD);
export const EVENT_TYPE = defineSearchAttributeKey('EventType', SearchAttributeType.KEYWORD);
export const DELIVERY_STATUS = defineSearchAttributeKey('DeliveryStatus', SearchAttributeType.KEYWORD);

/** What the Temporal server must have registered (the dev server gets them as --search-attribute flags). */
export const SEARCH_ATTRIBUTES = [APP_ID, SUBSCRIBER_ID, ENDPOINT_ID, EVENT_TYPE, DELIVERY_STATUS].map((key) => ({
  name: key.name,
  type: 'Keyword',
}));
