/** Standard close code for a server going down (RFC 6455: 1001 "going away"). */
export const CLOSE_GOING_AWAY = 1001;
